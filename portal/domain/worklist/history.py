"""A debtor's whole history for the task screen: invoices, messages, payments, requests
(promises and disputes among them), plans, earlier tasks and the timeline, each read in
one query and capped (the newest first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.domain.worklist.models import WorkTask
from portal.models import (
    AuditEvent,
    DebtorRequest,
    InstalmentPlan,
    Invoice,
    OutboxMessage,
    Payment,
)

LIMIT = 100  # rows per kind on the screen; the debtor page and the export have the rest


@dataclass
class History:
    invoices: Sequence[Invoice]
    messages: Sequence[OutboxMessage]
    payments: Sequence[Payment]
    requests: Sequence[DebtorRequest]
    plans: Sequence[InstalmentPlan]
    tasks: Sequence[WorkTask]
    events: Sequence[AuditEvent]


def of_debtor(session: Session, debtor_id: int, limit: int = LIMIT) -> History:
    """Everything about one debtor, newest first, at most `limit` of each kind."""
    return History(
        invoices=session.scalars(
            select(Invoice)
            .where(Invoice.debtor_id == debtor_id)
            .order_by(Invoice.due_date.desc(), Invoice.id.desc())
            .limit(limit)
        ).all(),
        messages=session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.debtor_id == debtor_id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        ).all(),
        payments=session.scalars(
            select(Payment)
            .where(Payment.debtor_id == debtor_id, Payment.test_mode.is_(False))
            .order_by(Payment.created_at.desc(), Payment.id.desc())
            .limit(limit)
        ).all(),
        requests=session.scalars(
            select(DebtorRequest)
            .where(DebtorRequest.debtor_id == debtor_id)
            .options(selectinload(DebtorRequest.invoice))
            .order_by(DebtorRequest.created_at.desc(), DebtorRequest.id.desc())
            .limit(limit)
        ).all(),
        plans=session.scalars(
            select(InstalmentPlan)
            .where(InstalmentPlan.debtor_id == debtor_id)
            .order_by(InstalmentPlan.created_at.desc(), InstalmentPlan.id.desc())
            .limit(limit)
        ).all(),
        tasks=session.scalars(
            select(WorkTask)
            .where(WorkTask.debtor_id == debtor_id)
            .options(selectinload(WorkTask.entries))
            .order_by(WorkTask.id.desc())
            .limit(limit)
        ).all(),
        events=session.scalars(
            select(AuditEvent)
            .where(AuditEvent.debtor_id == debtor_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        ).all(),
    )
