"""Holding reminders back: an invoice paused with a reason (until a date, or until
resumed), and debtors who must not be contacted. The dunning run skips both."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from portal.domain import audit
from portal.models import Debtor, Invoice

HOLD_REASONS = ("paused", "dispute", "promise", "plan", "breach")  # breach: after a plan ended


class HoldRefused(ValueError):
    """The hold cannot be set as asked; the message says why."""


def pause(
    session: Session,
    invoice: Invoice,
    reason: str,
    until: dt.date | None,
    actor: str,
    today: dt.date,
) -> None:
    """Hold the invoice's reminders back, until `until` or until resumed."""
    if reason not in HOLD_REASONS:
        raise HoldRefused("unknown reason")
    if until is not None and until < today:
        raise HoldRefused("the date lies in the past")
    invoice.hold_reason, invoice.hold_until = reason, until
    audit.record(
        session,
        actor,
        "dunning.paused",
        debtor_id=invoice.debtor_id,
        invoice_id=invoice.id,
        reason=reason,
        until=until.isoformat() if until else None,
    )


def resume(session: Session, invoice: Invoice, actor: str) -> bool:
    """Let reminders continue where they stopped; False when nothing was held."""
    if not invoice.hold_reason and invoice.hold_until is None:
        return False
    invoice.hold_reason, invoice.hold_until = "", None
    audit.record(
        session, actor, "dunning.resumed", debtor_id=invoice.debtor_id, invoice_id=invoice.id
    )
    return True


def set_do_not_contact(session: Session, debtor: Debtor, value: bool, actor: str) -> bool:
    """Mark or unmark a debtor whom no reminder may reach; False when unchanged."""
    if debtor.do_not_contact == value:
        return False
    debtor.do_not_contact = value
    audit.record(session, actor, "admin.do_not_contact", debtor_id=debtor.id, value=value)
    return True
