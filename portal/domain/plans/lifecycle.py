"""A plan's life after the proposal: offered (status `proposed`, by an admin, answering a
plan request or of their own accord), accepted by the debtor (one `accept`, for their own
proposal within the policy or for one someone offered: the agreement text, time and IP;
reminders held with reason "plan"; the plan it replaces cancelled), declined, cancelled
(holds of reason "plan" resume, instalment pay-links stop), or sent for review as a
request of kind "plan". The plan's state table is `PLAN_MOVES`.
Mails go through a `Notifier` (mails.PlanMails) in the same transaction. No Flask here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain import requests as req
from portal.domain.dunning import holds
from portal.domain.dunning.holds import plan_hold_until as hold_until
from portal.domain.plans import schedules
from portal.domain.plans.proposals import Proposal, _open, policy_for
from portal.domain.problems import N_, Problem
from portal.domain.states import IllegalTransition, StateTable
from portal.models import (
    Debtor,
    DebtorRequest,
    Instalment,
    InstalmentPlan,
    Invoice,
    PayLink,
    PlanInvoice,
    PlanStatus,
    RequestEvent,
    RequestKind,
    RequestState,
    utcnow,
)

__all__ = ["IllegalTransition", "PlanRefused"]


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


class Notifier(Protocol):
    """Writes the plan mails to the outbox (mails.PlanMails)."""

    def update(self, session: Session, plan: InstalmentPlan, note: str) -> None: ...


def new_plan(
    debtor: Debtor,
    invoices: Sequence[Invoice],
    schedule: schedules.Schedule,
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
    offer: Proposal | InstalmentPlan,
    agreement_text: str,
    ip: str,
    actor: str,
    today: dt.date,
    now: dt.datetime | None = None,
) -> InstalmentPlan:
    """The debtor agrees: to their own proposal within the policy (recorded now), or to a
    plan someone proposed (status `proposed`). Records the agreement (text, time, IP),
    makes the plan active, holds its invoices' reminders and cancels the plan it replaces.
    """
    now = now or utcnow()
    if isinstance(offer, Proposal):
        if not offer.can_accept:
            raise PlanRefused(N_("This plan needs our review before it can be agreed."))
        plan = new_plan(offer.debtor, offer.invoices, offer.schedule, offer.frequency)
        session.add(plan)
        session.flush()
    else:
        plan = offer
        _check_proposed(session, plan)
    replaced = session.get(InstalmentPlan, plan.replaces_id) if plan.replaces_id else None
    if replaced is not None and replaced.status == PlanStatus.ACTIVE.value:
        move(replaced, PlanStatus.CANCELLED, now, f"replaced by plan #{plan.id}")
        release(session, replaced, actor)  # the new plan holds them again below
        audit.record(
            session,
            actor,
            "plan.cancelled",
            debtor_id=plan.debtor_id,
            plan_id=replaced.id,
            reason="replaced",
            replaced_by=plan.id,
        )
    _activate(session, plan, agreement_text, ip, actor, now, today)
    return plan


def _check_proposed(session: Session, plan: InstalmentPlan) -> None:
    """A proposed plan can be agreed while its invoices are as they were proposed."""
    lock(session, plan)
    if plan.status != PlanStatus.PROPOSED.value:
        raise IllegalTransition("plan", plan.status, PlanStatus.ACTIVE)
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


def _activate(
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


def hold_invoices(session: Session, plan: InstalmentPlan, actor: str, today: dt.date) -> None:
    """Pause the reminders of the plan's invoices (reason "plan") until `hold_until`."""
    for link in plan.invoices:
        holds.pause(session, link.invoice, "plan", hold_until(plan), actor, today)


def release(session: Session, plan: InstalmentPlan, actor: str) -> list[Invoice]:
    """Lift the plan's hold from its invoices (only holds of reason "plan") and stop its
    instalment pay-links; returns the invoices whose reminders continue."""
    resumed = [
        link.invoice
        for link in plan.invoices
        if link.invoice.hold_reason == "plan" and holds.resume(session, link.invoice, actor)
    ]
    for pay_link in session.scalars(
        select(PayLink).where(
            PayLink.instalment_id.in_([i.id for i in plan.instalments]),
            PayLink.status == "active",
        )
    ):
        pay_link.status, pay_link.revoked_at = "revoked", utcnow()
    return resumed


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


def offer(
    session: Session,
    proposal: Proposal,
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
    resumed = release(session, plan, actor) if was_active else []
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
