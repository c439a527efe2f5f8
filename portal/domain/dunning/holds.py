"""Holding reminders back: an invoice paused with a reason (until a date, or until
resumed), and debtors who must not be contacted. The dunning run skips both."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.models import Debtor, InstalmentPlan, Invoice, PlanInvoice, PlanStatus

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


def plan_hold_until(plan: InstalmentPlan) -> dt.date:
    """When a plan's hold ends by itself: the daily plan check ends the plan at a breach,
    and the hold lapses when the last instalment could have been breached, so no plan
    pauses reminders for ever, even if that check never ran."""
    return plan.instalments[-1].due_date + dt.timedelta(days=plan.breach_days)


def back_to_plan(session: Session, invoice: Invoice, actor: str, today: dt.date) -> bool:
    """Once another hold has ended (a dispute settled), a running payment plan over the
    invoice holds its reminders again, until the plan's own hold lapses (its last
    instalment's due date plus the days to a breach); False when no plan holds it."""
    plan = session.scalar(
        select(InstalmentPlan)
        .join(PlanInvoice, PlanInvoice.plan_id == InstalmentPlan.id)
        .where(
            InstalmentPlan.debtor_id == invoice.debtor_id,
            InstalmentPlan.status == PlanStatus.ACTIVE.value,
            PlanInvoice.invoice_id == invoice.id,
        )
    )
    if plan is None or invoice.hold_reason or plan_hold_until(plan) < today:
        return False
    pause(session, invoice, "plan", plan_hold_until(plan), actor, today)
    return True


def set_do_not_contact(session: Session, debtor: Debtor, value: bool, actor: str) -> bool:
    """Mark or unmark a debtor whom no reminder may reach; False when unchanged."""
    if debtor.do_not_contact == value:
        return False
    debtor.do_not_contact = value
    audit.record(session, actor, "admin.do_not_contact", debtor_id=debtor.id, value=value)
    return True
