"""Payment plans that a person arranges: an admin proposes a plan (answering a debtor's plan
request, or for a debtor of their own accord), changes an active plan by proposing its
successor, or cancels a plan; the debtor accepts or declines a proposal in the portal.

A proposal is an `InstalmentPlan` in status `proposed` with its invoices and instalments;
it holds nothing until the debtor accepts it. Accepting records the agreement (text, time,
IP), moves it to `active` through `instalments.move`, pauses the invoices' reminders
(`instalments.hold_invoices`) and cancels the plan it replaces. Cancelling an active plan
lets the reminders of its invoices continue (`plan_progress.release`: only holds of reason
"plan"; its instalment pay-links stop).
Mails go through a `Notifier` (mails.PlanMails) in the same transaction. No Flask here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.domain import audit, plan_progress, plans
from portal.domain import requests as req
from portal.domain.instalments import (
    PlanRefused,
    activate,
    arrange,
    eligible_invoices,
    move,
    new_plan,
    policy_for,
    refusal,
    with_parts,
)
from portal.domain.params import whole
from portal.domain.problems import N_, Problem
from portal.domain.states import IllegalTransition
from portal.models import (
    PAYABLE_KINDS,
    AuditEvent,
    Debtor,
    DebtorRequest,
    InstalmentPlan,
    Invoice,
    InvoiceStatus,
    PlanStatus,
    RequestEvent,
    RequestKind,
    RequestState,
)

__all__ = ["IllegalTransition", "PlanRefused"]

PAGE_SIZE = 50


class Notifier(Protocol):
    """Writes the plan mails to the outbox (mails.PlanMails)."""

    def update(self, session: Session, plan: InstalmentPlan, note: str) -> None: ...


@dataclass
class Draft:
    """A plan as an admin sets it up: its invoices and schedule. `errors` stop it;
    `warnings` are the segment policy's rules it breaks (an admin may still propose it)."""

    debtor: Debtor
    invoices: list[Invoice]
    frequency: str
    schedule: plans.Schedule = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(i.open_cents for i in self.invoices)

    @property
    def currency(self) -> str:
        return self.invoices[0].currency if self.invoices else "EUR"

    @property
    def ok(self) -> bool:
        return bool(self.schedule) and not self.errors


def _open(invoice: Invoice) -> bool:
    return (
        invoice.status == InvoiceStatus.OPEN.value
        and invoice.kind in PAYABLE_KINDS
        and invoice.open_cents > 0
    )


def draft(
    session: Session,
    debtor: Debtor,
    invoice_ids: Iterable[int],
    start: dt.date,
    frequency: str,
    today: dt.date,
    *,
    count: int | None = None,
    per_instalment_cents: int | None = None,
    down_payment_pct: int = 0,
    replacing: InstalmentPlan | None = None,
) -> Draft:
    """A schedule over the debtor's chosen invoices that may go into a plan: the eligible
    ones, or for a change the still-open invoices of the plan it replaces."""
    wanted = set(invoice_ids)
    if replacing is not None:
        pool = [link.invoice for link in replacing.invoices if _open(link.invoice)]
    else:
        pool = eligible_invoices(session, debtor.id)
    chosen = [i for i in pool if i.id in wanted]
    result = Draft(debtor=debtor, invoices=chosen, frequency=frequency)
    refused = refusal(chosen, frequency)
    if refused is not None:
        result.errors.append(refused)
        return result
    if not 0 <= down_payment_pct <= 90:
        result.errors.append(Problem(N_("The down payment is a percentage from 0 to 90.")))
        return result
    if start < today:
        result.errors.append(Problem(N_("The first instalment cannot fall in the past.")))
    try:
        rows = arrange(
            result.total_cents, start, frequency, count, per_instalment_cents, down_payment_pct
        )
    except ValueError:
        result.errors.append(
            Problem(N_("A plan has from 1 to %(count)d instalments."), count=plans.MAX_COUNT)
        )
        return result
    result.schedule = rows
    policy = policy_for(session, debtor.segment_id)
    result.warnings = plans.check(policy, plans.plan_of(result.total_cents, rows, frequency))
    return result


def propose(
    session: Session,
    proposal: Draft,
    proposed_by: str,
    actor: str,
    notifier: Notifier,
    note: str = "",
    request: DebtorRequest | None = None,
    replaces: InstalmentPlan | None = None,
    request_seen: int | None = None,
) -> InstalmentPlan:
    """Record `proposal` as a plan in status `proposed` and mail the debtor. Answering a
    plan request moves that request to `answered`; a change names the plan it replaces.

    The request (or the plan replaced) is locked first: a request that changed since the
    admin saw it (`request_seen`, its newest event then) or a plan that already has a
    change proposed raises `req.ChangedMeanwhile`, so two admins never both propose."""
    if not proposal.ok:
        first = (
            proposal.errors[0]
            if proposal.errors
            else Problem(N_("Choose at least one open invoice."))
        )
        raise PlanRefused(first.msgid, **first.params)
    debtor = proposal.debtor
    if request is not None:
        if request.kind != RequestKind.PLAN.value or request.debtor_id != debtor.id:
            raise PlanRefused(N_("This is not a payment plan request of this debtor."))
        req.lock(session, request)
        if request.closed:
            raise IllegalTransition("request", request.state, RequestState.ANSWERED)
        req.check_unchanged(request, request_seen)
    if replaces is not None:
        if replaces.debtor_id != debtor.id:
            raise PlanRefused(N_("This plan belongs to another debtor."))
        lock(session, replaces)
        if replaces.status != PlanStatus.ACTIVE.value:
            raise IllegalTransition("plan", replaces.status, PlanStatus.CANCELLED)
        pending = session.scalar(
            select(InstalmentPlan.id).where(
                InstalmentPlan.replaces_id == replaces.id,
                InstalmentPlan.status == PlanStatus.PROPOSED.value,
            )
        )
        if pending is not None:
            raise req.ChangedMeanwhile(f"plan {replaces.id} has a change proposed: {pending}")
    plan = new_plan(
        debtor,
        proposal.invoices,
        proposal.schedule,
        proposal.frequency,
        proposed_by=proposed_by[:80],
        request_id=request.id if request is not None else None,
        replaces_id=replaces.id if replaces is not None else None,
    )
    session.add(plan)
    session.flush()
    if request is not None:
        message = note.strip() or f"plan #{plan.id}"
        if not req.move(session, request, RequestState.ANSWERED, actor, message):
            request.events.append(
                RequestEvent(actor=actor, action="plan_proposed", message=message)
            )
    audit.record(
        session,
        actor,
        "plan.proposed",
        debtor_id=debtor.id,
        plan_id=plan.id,
        total_cents=plan.total_cents,
        instalments=len(plan.instalments),
        request_id=plan.request_id,
        replaces_id=plan.replaces_id,
        outside_policy=[p.msgid for p in proposal.warnings],
        note=note.strip()[:500],
    )
    notifier.update(session, plan, note.strip())
    return plan


def change(
    session: Session,
    plan: InstalmentPlan,
    today: dt.date,
    start: dt.date,
    frequency: str,
    *,
    count: int | None = None,
    per_instalment_cents: int | None = None,
    down_payment_pct: int = 0,
) -> Draft:
    """The draft of a successor to an active plan over what is still open of its invoices."""
    if plan.status != PlanStatus.ACTIVE.value:
        raise IllegalTransition("plan", plan.status, PlanStatus.CANCELLED)
    return draft(
        session,
        plan.debtor,
        [link.invoice_id for link in plan.invoices],
        start,
        frequency,
        today,
        count=count,
        per_instalment_cents=per_instalment_cents,
        down_payment_pct=down_payment_pct,
        replacing=plan,
    )


def accept(
    session: Session,
    plan: InstalmentPlan,
    agreement_text: str,
    ip: str,
    actor: str,
    now: dt.datetime,
    today: dt.date,
) -> None:
    """The debtor agrees to a proposed plan: record the agreement, make it active, hold
    its invoices' reminders and cancel the plan it replaces."""
    lock(session, plan)
    if plan.status != PlanStatus.PROPOSED.value:
        raise IllegalTransition("plan", plan.status, PlanStatus.ACTIVE)
    replaced = session.get(InstalmentPlan, plan.replaces_id) if plan.replaces_id else None
    for link in plan.invoices:
        invoice = link.invoice
        if not _open(invoice) or invoice.hold_reason == "dispute":
            raise PlanRefused(
                N_(
                    "Invoice %(number)s is no longer open, so this proposal cannot be agreed."
                    " We will send you a new one."
                ),
                number=invoice.number,
            )
        if invoice.open_cents != link.open_cents:
            raise PlanRefused(
                N_(
                    "The open amount of invoice %(number)s has changed since this proposal was"
                    " made, so it cannot be agreed. We will send you a new one."
                ),
                number=invoice.number,
            )
    if replaced is not None and replaced.status == PlanStatus.ACTIVE.value:
        move(replaced, PlanStatus.CANCELLED, now, f"replaced by plan #{plan.id}")
        plan_progress.release(session, replaced, actor)  # the new plan holds them again below
        audit.record(
            session,
            actor,
            "plan.cancelled",
            debtor_id=plan.debtor_id,
            plan_id=replaced.id,
            reason="replaced",
            replaced_by=plan.id,
        )
    activate(session, plan, agreement_text, ip, actor, now, today)


def lock(session: Session, plan: InstalmentPlan) -> None:
    """Take the plan's row lock and read it afresh: a debtor's click and an admin's, or a
    double click, then see each other's result instead of both acting on the same state."""
    session.refresh(plan, with_for_update=True)


def decline(session: Session, plan: InstalmentPlan, actor: str, now: dt.datetime) -> None:
    """The debtor does not want the proposed plan: it is cancelled; nothing was held."""
    lock(session, plan)
    if plan.status != PlanStatus.PROPOSED.value:
        raise IllegalTransition("plan", plan.status, PlanStatus.CANCELLED)
    move(plan, PlanStatus.CANCELLED, now, "declined by the debtor")
    audit.record(session, actor, "plan.declined", debtor_id=plan.debtor_id, plan_id=plan.id)


def cancel(
    session: Session,
    plan: InstalmentPlan,
    reason: str,
    actor: str,
    now: dt.datetime,
    notifier: Notifier,
) -> list[Invoice]:
    """Cancel an active or proposed plan with a reason and mail the debtor. An active
    plan's invoices that it held (reason "plan") get their reminders back; returns them."""
    if not reason.strip():
        raise PlanRefused(N_("Give the reason for cancelling."))
    lock(session, plan)
    was_active = plan.status == PlanStatus.ACTIVE.value
    move(plan, PlanStatus.CANCELLED, now, reason.strip())
    resumed = plan_progress.release(session, plan, actor) if was_active else []
    audit.record(
        session,
        actor,
        "plan.cancelled",
        debtor_id=plan.debtor_id,
        plan_id=plan.id,
        reason=reason.strip()[:250],
        resumed=[i.id for i in resumed],
    )
    notifier.update(session, plan, reason.strip())
    return resumed


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
