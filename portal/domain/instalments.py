"""Payment plans in the database: the policy of a debtor's segment, a proposal over the
debtor's own open invoices, and recording a plan the debtor accepted.

Every query that takes an id also filters on the debtor's id; an invoice of someone else
is simply not part of the proposal. Recording a plan pauses the reminders of its invoices
(`holds.pause`, reason "plan").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from portal.domain import audit, plans
from portal.domain.dunning import holds
from portal.domain.problems import N_, Problem
from portal.domain.states import StateTable
from portal.models import (
    PAYABLE_KINDS,
    Debtor,
    DebtorRequest,
    Instalment,
    InstalmentPlan,
    Invoice,
    InvoiceStatus,
    PlanInvoice,
    PlanPolicy,
    PlanStatus,
    RequestEvent,
    RequestKind,
    RequestState,
    utcnow,
)


class PlanRefused(Problem):
    """The plan cannot be recorded as asked; the message says why."""


# The plan's state table (DESIGN.md section 2): a move it does not list raises.
PLAN_MOVES = StateTable(
    "plan",
    {
        PlanStatus.PROPOSED: {PlanStatus.ACTIVE, PlanStatus.CANCELLED},
        PlanStatus.ACTIVE: {PlanStatus.COMPLETED, PlanStatus.BREACHED, PlanStatus.CANCELLED},
        PlanStatus.COMPLETED: (),
        PlanStatus.BREACHED: (),
        PlanStatus.CANCELLED: (),
    },
)


def move(plan: InstalmentPlan, new: PlanStatus, now: dt.datetime, reason: str = "") -> None:
    """Move `plan` to `new`; an ended plan records when and why it ended."""
    old = PlanStatus(plan.status)
    PLAN_MOVES.check(old, new)
    plan.status = new.value
    if PLAN_MOVES.is_final(new):
        plan.ended_at = now
        plan.end_reason = reason[:250]


def policy_for(session: Session, segment_id: int | None) -> plans.Policy:
    """The segment's plan policy, or the defaults when it has none."""
    if segment_id is None:
        return plans.DEFAULT_POLICY
    row = session.scalars(select(PlanPolicy).where(PlanPolicy.segment_id == segment_id)).first()
    if row is None:
        return plans.DEFAULT_POLICY
    return plans.Policy(
        min_total_cents=row.min_total_cents,
        max_instalments=row.max_instalments,
        min_instalment_cents=row.min_instalment_cents,
        max_days=row.max_days,
        auto_approve=row.auto_approve,
        down_payment_pct=row.down_payment_pct,
        frequencies=tuple(f for f in row.frequencies.split(",") if f in plans.FREQUENCIES),
        breach_days=row.breach_days,
    )


def eligible_invoices(session: Session, debtor_id: int) -> list[Invoice]:
    """The debtor's open, payable invoices that no dispute or active plan holds."""
    in_plan = (
        select(PlanInvoice.invoice_id)
        .join(InstalmentPlan, InstalmentPlan.id == PlanInvoice.plan_id)
        .where(InstalmentPlan.debtor_id == debtor_id, InstalmentPlan.status == PlanStatus.ACTIVE)
    )
    stmt = (
        select(Invoice)
        .where(
            Invoice.debtor_id == debtor_id,
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.kind.in_(PAYABLE_KINDS),
            Invoice.open_cents > 0,
            Invoice.hold_reason != "dispute",
            Invoice.id.not_in(in_plan),
        )
        .order_by(Invoice.due_date, Invoice.id)
    )
    return list(session.scalars(stmt))


@dataclass
class Proposal:
    """A plan as the debtor asked for it, with the policy's verdict."""

    invoices: list[Invoice]
    schedule: plans.Schedule
    frequency: str
    policy: plans.Policy
    problems: list[Problem] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(i.open_cents for i in self.invoices)

    @property
    def within_policy(self) -> bool:
        return bool(self.schedule) and not self.problems

    @property
    def can_accept(self) -> bool:
        """The debtor may agree to it at once, without review."""
        return self.within_policy and self.policy.auto_approve


def refusal(invoices: Sequence[Invoice], frequency: str) -> Problem | None:
    """Why these invoices cannot go into one plan at this frequency, or None."""
    if not invoices:
        return Problem(N_("Choose at least one open invoice."))
    if len({i.currency for i in invoices}) > 1:
        return Problem(N_("A plan can only hold invoices in one currency."))
    if frequency not in plans.FREQUENCIES:
        return Problem(N_("Choose how often from the list."))
    return None


def arrange(
    total_cents: int,
    start: dt.date,
    frequency: str,
    count: int | None,
    per_instalment_cents: int | None,
    down_payment_pct: int,
) -> plans.Schedule:
    """The schedule a form asks for: by amount per instalment when one is given, else by
    number of instalments. Raises ValueError for a schedule that cannot be made."""
    if per_instalment_cents is not None:
        return plans.by_amount(
            total_cents, per_instalment_cents, start, frequency, down_payment_pct
        )
    return plans.schedule(total_cents, count or 0, start, frequency, down_payment_pct)


def propose(
    session: Session,
    debtor: Debtor,
    invoice_ids: Iterable[int],
    start: dt.date,
    frequency: str,
    today: dt.date,
    count: int | None = None,
    per_instalment_cents: int | None = None,
) -> Proposal:
    """A schedule over the debtor's chosen eligible invoices; other ids are ignored."""
    wanted = set(invoice_ids)
    chosen = [i for i in eligible_invoices(session, debtor.id) if i.id in wanted]
    policy = policy_for(session, debtor.segment_id)
    proposal = Proposal(invoices=chosen, schedule=[], frequency=frequency, policy=policy)
    refused = refusal(chosen, frequency)
    if refused is not None:
        proposal.problems.append(refused)
        return proposal
    proposal.problems.extend(plans.check_start(start, today))
    try:
        rows = arrange(
            proposal.total_cents,
            start,
            frequency,
            count,
            per_instalment_cents,
            policy.down_payment_pct,
        )
    except ValueError:
        proposal.problems.append(
            Problem(
                N_("A payment plan has at most %(count)d instalments."),
                count=policy.max_instalments,
            )
        )
        return proposal
    proposal.schedule = rows
    plan = plans.plan_of(proposal.total_cents, rows, frequency)
    proposal.problems.extend(plans.check(policy, plan))
    return proposal


def new_plan(
    debtor: Debtor,
    invoices: Sequence[Invoice],
    schedule: plans.Schedule,
    frequency: str,
    **extra: object,
) -> InstalmentPlan:
    """A plan in status `proposed` over `invoices` (their open amounts now) with the
    instalments of `schedule`; not yet added to the session."""
    plan = InstalmentPlan(
        debtor_id=debtor.id,
        status=PlanStatus.PROPOSED.value,
        frequency=frequency,
        total_cents=sum(i.open_cents for i in invoices),
        currency=invoices[0].currency,
        agreement_text="",
        **extra,
    )
    plan.debtor = debtor
    plan.invoices = [PlanInvoice(invoice=i, open_cents=i.open_cents) for i in invoices]
    plan.instalments = [
        Instalment(seq=n, due_date=day, cents=cents)
        for n, (day, cents) in enumerate(schedule, start=1)
    ]
    return plan


def accept(
    session: Session,
    debtor: Debtor,
    proposal: Proposal,
    agreement_text: str,
    ip: str,
    actor: str,
    today: dt.date,
) -> InstalmentPlan:
    """Record the plan the debtor agreed to online and pause its invoices' reminders."""
    if not proposal.can_accept:
        raise PlanRefused(N_("This plan needs our review before it can be agreed."))
    plan = new_plan(debtor, proposal.invoices, proposal.schedule, proposal.frequency)
    session.add(plan)
    session.flush()
    activate(session, plan, agreement_text, ip, actor, utcnow(), today)
    return plan


def activate(
    session: Session,
    plan: InstalmentPlan,
    agreement_text: str,
    ip: str,
    actor: str,
    now: dt.datetime,
    today: dt.date,
) -> None:
    """The debtor agrees: record the agreement, make the plan active, hold its invoices'
    reminders and withdraw other proposals over the same invoices.

    The debtor's row is locked first, so two agreements at once (a double click, two
    tabs) cannot put one invoice in two running plans."""
    session.execute(select(Debtor.id).where(Debtor.id == plan.debtor_id).with_for_update())
    if plan.instalments[0].due_date < today:
        raise PlanRefused(
            N_(
                "The first instalment of this proposal was due on %(date)s, which has passed."
                " Please ask us for a new proposal."
            ),
            date=plan.instalments[0].due_date.isoformat(),
        )
    ids = [link.invoice_id for link in plan.invoices]
    others = list(
        session.scalars(
            select(InstalmentPlan)
            .join(PlanInvoice, PlanInvoice.plan_id == InstalmentPlan.id)
            .where(
                InstalmentPlan.debtor_id == plan.debtor_id,
                InstalmentPlan.id != plan.id,
                InstalmentPlan.status.in_([PlanStatus.ACTIVE.value, PlanStatus.PROPOSED.value]),
                PlanInvoice.invoice_id.in_(ids),
            )
            .distinct()
            .execution_options(populate_existing=True)
        )
    )
    if any(other.status == PlanStatus.ACTIVE for other in others):
        raise PlanRefused(N_("An invoice of this proposal is already in another plan."))
    move(plan, PlanStatus.ACTIVE, now)
    plan.agreement_text = agreement_text
    plan.accepted_at = now
    plan.accepted_ip = ip[:45]
    plan.breach_days = policy_for(session, plan.debtor.segment_id).breach_days
    hold_invoices(session, plan, actor, today)
    for other in others:  # proposals over these invoices can no longer be agreed
        move(other, PlanStatus.CANCELLED, now, f"superseded by plan #{plan.id}")
        audit.record(
            session,
            actor,
            "plan.cancelled",
            debtor_id=plan.debtor_id,
            plan_id=other.id,
            reason="superseded",
            replaced_by=plan.id,
        )
    audit.record(
        session,
        actor,
        "plan.accepted",
        debtor_id=plan.debtor_id,
        plan_id=plan.id,
        total_cents=plan.total_cents,
        instalments=len(plan.instalments),
        replaces_id=plan.replaces_id,
    )


def hold_until(plan: InstalmentPlan) -> dt.date:
    """When a plan's hold ends by itself: the daily plan check ends the plan at a breach,
    and the hold lapses when the last instalment could have been breached, so no plan
    pauses reminders for ever, even if that check never ran."""
    return plan.instalments[-1].due_date + dt.timedelta(days=plan.breach_days)


def hold_invoices(session: Session, plan: InstalmentPlan, actor: str, today: dt.date) -> None:
    """Pause the reminders of the plan's invoices (reason "plan") until `hold_until`."""
    for link in plan.invoices:
        holds.pause(session, link.invoice, "plan", hold_until(plan), actor, today)


def ask_review(
    session: Session, debtor: Debtor, proposal: Proposal, message: str, actor: str
) -> DebtorRequest:
    """Send a plan the debtor may not agree to online to the admin inbox as a request."""
    if not proposal.schedule:
        raise PlanRefused(N_("Choose at least one open invoice."))
    details = {
        "invoice_ids": [i.id for i in proposal.invoices],
        "invoices": [i.number for i in proposal.invoices],
        "frequency": proposal.frequency,
        "total_cents": proposal.total_cents,
        "schedule": [[day.isoformat(), cents] for day, cents in proposal.schedule],
        "problems": [str(p) for p in proposal.problems],
    }
    request = DebtorRequest(
        kind=RequestKind.PLAN.value,
        state=RequestState.OPEN.value,
        debtor_id=debtor.id,
        message=message.strip()[:4000],
        details=details,
    )
    request.events.append(RequestEvent(actor=actor, action="created", state="open"))
    session.add(request)
    session.flush()
    audit.record(session, actor, "plan.review_asked", debtor_id=debtor.id, request_id=request.id)
    return request


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
