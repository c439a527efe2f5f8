"""Writing off what cannot be collected: a credit note set off against the invoice (booked by
the ledger: its open amount goes down and it is settled at zero), a
`write_off` row with the reason, and an audit event. The amount leaves the open totals;
insight counts it as written off (`written_off_between`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain import audit, ledger
from portal.domain.collection.models import WriteOff
from portal.domain.problems import N_, Problem
from portal.models import PAYABLE_KINDS, Invoice, InvoiceStatus

ACTION = "collection.written_off"
OWED = (InvoiceStatus.OPEN.value, InvoiceStatus.HANDED_OVER.value)


class WriteOffRefused(Problem):
    """A write-off that cannot be done; the message says why."""


def write_off(
    session: Session,
    invoice: Invoice,
    cents: int,
    reason: str,
    actor: str,
    day: dt.date,
    *,
    source: str = "hand",
) -> WriteOff:
    """Take `cents` off `invoice` for good, with a reason (the caller commits)."""
    if not reason.strip():
        raise WriteOffRefused(N_("Say why this cannot be collected."))
    locked = session.execute(
        select(Invoice)
        .where(Invoice.id == invoice.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if locked.kind not in PAYABLE_KINDS or locked.status not in OWED:
        raise WriteOffRefused(N_("Only an open invoice can be written off."))
    if not 0 < cents <= locked.open_cents:
        raise WriteOffRefused(N_("Write off more than zero and at most what is open."))
    number_seq = session.scalar(select(func.count()).select_from(WriteOff)) or 0
    number = f"WO{number_seq + 1}-{locked.number}"
    note = ledger.credit(session, locked, cents, number, f"Written off: {reason.strip()}", day)
    row = WriteOff(
        invoice_id=locked.id,
        debtor_id=locked.debtor_id,
        credit_note_id=note.id,
        amount_cents=cents,
        currency=locked.currency,
        reason=reason.strip(),
        source=source,
        by=actor,
        written_on=day,
    )
    session.add(row)
    audit.record(
        session,
        actor,
        ACTION,
        debtor_id=locked.debtor_id,
        invoice_id=locked.id,
        amount_cents=cents,
        currency=locked.currency,
        reason=reason.strip(),
        source=source,
        credit_note=note.number,
    )
    ledger.open_amounts_changed(session, ledger.Change(invoice_ids={locked.id}))
    session.flush()
    return row


def written_off_between(session: Session, start: dt.date, end: dt.date) -> dict[str, int]:
    """Cents written off per currency with `start <= day <= end` (insight)."""
    return {
        currency: int(cents)
        for currency, cents in session.execute(
            select(WriteOff.currency, func.sum(WriteOff.amount_cents))
            .where(WriteOff.written_on >= start, WriteOff.written_on <= end)
            .group_by(WriteOff.currency)
        )
    }


def of_invoice(session: Session, invoice_id: int) -> list[WriteOff]:
    """An invoice's write-offs, oldest first."""
    return list(
        session.scalars(
            select(WriteOff).where(WriteOff.invoice_id == invoice_id).order_by(WriteOff.id)
        )
    )
