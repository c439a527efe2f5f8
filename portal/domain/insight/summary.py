"""The weekly summary for admins: what is owed and how it moved, DSO, the debtors who owe
the most overdue, what happened last week, and what waits for a person."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain import requests
from portal.domain.insight import read
from portal.domain.messaging import letters
from portal.domain.plans import listing
from portal.models import (
    AdminUser,
    DebtorRequest,
    InstalmentPlan,
    Invoice,
    InvoiceSettlement,
    OutboxMessage,
    OutboxStatus,
    PlanStatus,
    RequestKind,
)

TOP = 5


@dataclass
class Summary:
    """The figures of one weekly summary; `before` values are those of a week earlier."""

    day: dt.date
    open_cents: int
    open_before: int
    overdue_cents: int
    overdue_before: int
    dso: float | None
    dso_before: float | None
    top: list[tuple[str, str, int, str]]  # name, number, overdue cents, grade ("" unrated)
    paid_count: int
    paid_cents: int
    promises_broken: int
    plans_breached: int
    disputes_opened: int
    waiting: dict[str, int] = field(default_factory=dict)
    letters_waiting: int = 0
    failed_mail: int = 0
    plans_proposed: int = 0


def build(session: Session, day: dt.date) -> Summary | None:
    """The summary on `day` from the prepared figures (None before the first recompute)."""
    docs, _when = read.figures(session)
    if "dso" not in docs:
        return None
    now: dict[str, Any] = docs["dso"]["today"].get("all", {})
    before: dict[str, Any] = docs["dso"]["week_ago"].get("all", {})
    week_start = day - dt.timedelta(days=7)
    moment = dt.datetime.combine(week_start, dt.time(), tzinfo=dt.UTC)
    top = [
        (
            row.debtor.name,
            row.debtor.number,
            row.age.overdue_cents if row.age else 0,
            row.rating.grade if row.rating else "",
        )
        for row in read.debtors(session, "all", "", limit=TOP)[0]
        if row.age and row.age.overdue_cents > 0
    ]
    paid_count, paid_cents = session.execute(
        select(func.count(), func.coalesce(func.sum(Invoice.total_cents), 0))
        .join(InvoiceSettlement, InvoiceSettlement.invoice_id == Invoice.id)
        .where(
            InvoiceSettlement.how == "paid",
            InvoiceSettlement.paid_on >= week_start,
            InvoiceSettlement.paid_on < day,
        )
    ).one()
    promises_broken = session.scalar(
        select(func.count())
        .select_from(DebtorRequest)
        .join(Invoice, Invoice.id == DebtorRequest.invoice_id)
        .outerjoin(InvoiceSettlement, InvoiceSettlement.invoice_id == Invoice.id)
        .where(
            DebtorRequest.kind == RequestKind.PROMISE.value,
            DebtorRequest.outcome != "replaced",
            DebtorRequest.promise_date >= week_start,
            DebtorRequest.promise_date < day,
            (Invoice.status == "open") | (InvoiceSettlement.paid_on > DebtorRequest.promise_date),
        )
    )
    plans_breached = session.scalar(
        select(func.count()).where(
            InstalmentPlan.status == PlanStatus.BREACHED.value,
            InstalmentPlan.ended_at >= moment,
        )
    )
    disputes = session.scalar(
        select(func.count()).where(
            DebtorRequest.kind == RequestKind.DISPUTE.value, DebtorRequest.created_at >= moment
        )
    )
    failed = session.scalar(
        select(func.count()).where(
            OutboxMessage.status == OutboxStatus.FAILED.value, OutboxMessage.created_at >= moment
        )
    )
    plan_counts = listing.counts(session, moment)
    return Summary(
        day=day,
        open_cents=int(now.get("receivable", 0)),
        open_before=int(before.get("receivable", 0)),
        overdue_cents=int(now.get("receivable", 0)) - int(now.get("current", 0)),
        overdue_before=int(before.get("receivable", 0)) - int(before.get("current", 0)),
        dso=now.get("countback"),
        dso_before=before.get("countback"),
        top=top,
        paid_count=int(paid_count),
        paid_cents=int(paid_cents),
        promises_broken=int(promises_broken or 0),
        plans_breached=int(plans_breached or 0),
        disputes_opened=int(disputes or 0),
        waiting=requests.open_counts(session),
        letters_waiting=letters.pending_count(session),
        failed_mail=int(failed or 0),
        plans_proposed=int(plan_counts.get(PlanStatus.PROPOSED.value, 0)),
    )


def recipients(session: Session) -> list[AdminUser]:
    """Active admins who asked for the weekly summary."""
    return list(
        session.scalars(
            select(AdminUser)
            .where(AdminUser.weekly_summary, AdminUser.active)
            .order_by(AdminUser.id)
        )
    )
