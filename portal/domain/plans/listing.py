"""Reading plans: a debtor's own (every query filters on the debtor's id), and for admin
one plan, a page of plans, a debtor's or a request's plans, a plan's audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from portal.domain.params import whole
from portal.models import AuditEvent, DebtorRequest, InstalmentPlan, PlanInvoice, PlanStatus

PAGE_SIZE = 50


def with_parts() -> tuple[ORMOption, ...]:
    """Load options for a plan with its instalments and its invoices (no query per row)."""
    return (
        selectinload(InstalmentPlan.instalments),
        selectinload(InstalmentPlan.invoices).selectinload(PlanInvoice.invoice),
    )


def plans_of(session: Session, debtor_id: int) -> list[InstalmentPlan]:
    """The debtor's plans, newest first, with their instalments and invoices."""
    stmt = (
        select(InstalmentPlan)
        .where(InstalmentPlan.debtor_id == debtor_id)
        .options(*with_parts())
        .order_by(InstalmentPlan.id.desc())
    )
    return list(session.scalars(stmt))


def get_plan(session: Session, debtor_id: int, plan_id: int) -> InstalmentPlan | None:
    """The plan only when it belongs to this debtor; otherwise None (a 404)."""
    return session.scalars(
        select(InstalmentPlan)
        .where(InstalmentPlan.id == plan_id, InstalmentPlan.debtor_id == debtor_id)
        .options(*with_parts())
    ).first()


def get(session: Session, plan_id: int) -> InstalmentPlan | None:
    """One plan with its debtor, invoices and instalments (admin: any debtor's)."""
    return session.scalars(
        select(InstalmentPlan)
        .where(InstalmentPlan.id == plan_id)
        .options(
            *with_parts(),
            selectinload(InstalmentPlan.debtor),
        )
    ).first()


def counts(session: Session, since: dt.datetime) -> dict[str, int]:
    """Plans per status for the dashboard: running and proposed ones, and those that ended
    (breached, completed, cancelled) since `since`."""
    ended = InstalmentPlan.ended_at >= since
    rows = session.execute(
        select(InstalmentPlan.status, func.count())
        .where(
            InstalmentPlan.status.in_([PlanStatus.ACTIVE.value, PlanStatus.PROPOSED.value]) | ended
        )
        .group_by(InstalmentPlan.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


def listing(
    session: Session, status: str | None, page: int
) -> tuple[Sequence[InstalmentPlan], int]:
    """One page of plans, newest first, optionally of one status; and how many in all."""
    where = [InstalmentPlan.status == status] if status in set(PlanStatus) else []
    total = session.scalar(select(func.count()).select_from(InstalmentPlan).where(*where)) or 0
    rows = session.scalars(
        select(InstalmentPlan)
        .where(*where)
        .options(selectinload(InstalmentPlan.debtor), selectinload(InstalmentPlan.instalments))
        .order_by(InstalmentPlan.id.desc())
        .limit(PAGE_SIZE)
        .offset(max(page - 1, 0) * PAGE_SIZE)
    ).all()
    return rows, total


def of_debtor(session: Session, debtor_id: int) -> Sequence[InstalmentPlan]:
    """A debtor's plans, newest first."""
    return session.scalars(
        select(InstalmentPlan)
        .where(InstalmentPlan.debtor_id == debtor_id)
        .options(selectinload(InstalmentPlan.instalments))
        .order_by(InstalmentPlan.id.desc())
    ).all()


def for_request(session: Session, request_id: int) -> Sequence[InstalmentPlan]:
    """The plans proposed in answer to a request, newest first."""
    return session.scalars(
        select(InstalmentPlan)
        .where(InstalmentPlan.request_id == request_id)
        .order_by(InstalmentPlan.id.desc())
    ).all()


def trail(session: Session, plan: InstalmentPlan) -> list[AuditEvent]:
    """The audit events about this plan, oldest first (the debtor's plan events, matched
    on the plan id in their details)."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.debtor_id == plan.debtor_id, AuditEvent.action.startswith("plan."))
        .order_by(AuditEvent.at, AuditEvent.id)
        .limit(1000)
    )
    return [e for e in events if (e.details or {}).get("plan_id") == plan.id]


def request_invoice_ids(request: DebtorRequest) -> list[int]:
    """The invoice ids a plan request asked about (from its details)."""
    raw = (request.details or {}).get("invoice_ids") or []
    return [n for n in (whole(v) for v in raw) if n is not None]
