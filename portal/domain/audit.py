"""Record who did what, for the debtor and invoice timelines and the admin audit log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from portal.models import AuditEvent, utcnow


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    debtor_id: int | None = None,
    invoice_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event in the caller's transaction."""
    event = AuditEvent(
        actor=actor, action=action, debtor_id=debtor_id, invoice_id=invoice_id, details=details
    )
    session.add(event)
    return event


def record_each(
    session: Session,
    actor: str,
    action: str,
    debtor_id: int,
    invoice_ids: Iterable[int],
    **details: Any,
) -> None:
    """The same event on the timeline of each of several invoices of one debtor."""
    for invoice_id in invoice_ids:
        record(session, actor, action, debtor_id=debtor_id, invoice_id=invoice_id, **details)


def rows_each(
    actor: str, action: str, debtor_id: int, invoice_ids: Iterable[int], **details: Any
) -> list[dict[str, Any]]:
    """`record_each` as rows for one bulk insert (many groups at once, as the dunning run)."""
    at = utcnow()
    return [
        {
            "at": at,
            "actor": actor,
            "action": action,
            "debtor_id": debtor_id,
            "invoice_id": invoice_id,
            "details": details,
        }
        for invoice_id in invoice_ids
    ]
