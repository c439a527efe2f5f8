"""The day each settled invoice was paid, read from its history once and kept.

An invoice's open amount reaches zero through a payment in the portal, an import that
books money paid elsewhere, or a credit note. Each of these writes an audit event on the
invoice; the day of the newest one (in the business time zone) is the settlement day. An
invoice without such an event that changed after it arrived was settled on the day it last
changed; one that arrived already paid has no known day (`unknown`) and insight leaves it
out. An invoice that is open again (a refund, a chargeback) loses its settlement.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from portal.domain.bulk import insert_rows
from portal.models import AuditEvent, Invoice, InvoiceKind, InvoiceSettlement, InvoiceStatus

MONEY_ACTIONS = (
    "payment.received",
    "invoice.paid_elsewhere",
    "invoice.updated",
    "request.credited",
    "collection.written_off",
)
# a credit note settles it: a dispute's credit, or a write-off of what cannot be collected
CREDIT_ACTIONS = ("request.credited", "collection.written_off")
_SAME_MOMENT = dt.timedelta(seconds=60)  # inserted already paid: created and updated at once


def record(session: Session, timezone: str, *, chunk: int = 20_000) -> int:
    """Record the settlement day of every newly settled invoice and forget those of
    invoices open again; returns how many were recorded."""
    session.execute(
        delete(InvoiceSettlement).where(
            InvoiceSettlement.invoice_id.in_(
                select(Invoice.id).where(Invoice.status != InvoiceStatus.PAID.value)
            )
        )
    )
    zone = ZoneInfo(timezone)
    last_money = (
        select(func.max(AuditEvent.at))
        .where(AuditEvent.invoice_id == Invoice.id, AuditEvent.action.in_(MONEY_ACTIONS))
        .correlate(Invoice)
        .scalar_subquery()
    )
    last_credit = (
        select(func.max(AuditEvent.at))
        .where(AuditEvent.invoice_id == Invoice.id, AuditEvent.action.in_(CREDIT_ACTIONS))
        .correlate(Invoice)
        .scalar_subquery()
    )
    stmt = (
        select(Invoice.id, Invoice.created_at, Invoice.updated_at, last_money, last_credit)
        .outerjoin(InvoiceSettlement, InvoiceSettlement.invoice_id == Invoice.id)
        .where(
            Invoice.status == InvoiceStatus.PAID.value,
            Invoice.kind == InvoiceKind.INVOICE.value,
            InvoiceSettlement.invoice_id.is_(None),
        )
    )
    rows = [
        settlement(invoice_id, created, updated, money_at, credit_at, zone)
        for invoice_id, created, updated, money_at, credit_at in session.execute(stmt)
    ]
    insert_rows(session, InvoiceSettlement, rows)
    if len(rows) > 10_000 and session.get_bind().dialect.name == "postgresql":
        # a first run writes a row per settled invoice: plan the drill-downs on what is there
        session.execute(text("ANALYZE invoice_settlement"))
    return len(rows)


def settlement(
    invoice_id: int,
    created: dt.datetime,
    updated: dt.datetime,
    money_at: dt.datetime | None,
    credit_at: dt.datetime | None,
    zone: ZoneInfo,
) -> dict[str, object]:
    """One settlement row from an invoice's moments (UTC) and the newest money event."""
    if money_at is not None:
        how = "credit" if credit_at is not None and credit_at >= money_at else "paid"
        return {"invoice_id": invoice_id, "paid_on": _local(money_at, zone), "how": how}
    if updated - created > _SAME_MOMENT:
        return {"invoice_id": invoice_id, "paid_on": _local(updated, zone), "how": "paid"}
    return {"invoice_id": invoice_id, "paid_on": None, "how": "unknown"}


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).date()
