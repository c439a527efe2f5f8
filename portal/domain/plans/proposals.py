"""Proposals: a plan before anyone agreed to it. One `Proposal` type serves the debtor
who asks for a plan in the portal (`propose`: their own eligible invoices, the segment's
down payment, the policy's verdict) and the admin who sets one up (`draft`, `change`: the
policy's rules are warnings an admin may overrule). Every query that takes an id also
filters on the debtor's id; an invoice of someone else is simply not part of a proposal.
No Flask here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.plans import schedules
from portal.domain.problems import N_, Problem
from portal.domain.states import IllegalTransition
from portal.models import (
    PAYABLE_KINDS,
    Debtor,
    InstalmentPlan,
    Invoice,
    InvoiceStatus,
    PlanInvoice,
    PlanPolicy,
    PlanStatus,
)


def policy_for(session: Session, segment_id: int | None) -> schedules.Policy:
    """The segment's plan policy, or the defaults when it has none."""
    if segment_id is None:
        return schedules.DEFAULT_POLICY
    row = session.scalars(select(PlanPolicy).where(PlanPolicy.segment_id == segment_id)).first()
    if row is None:
        return schedules.DEFAULT_POLICY
    return schedules.Policy(
        min_total_cents=row.min_total_cents,
        max_instalments=row.max_instalments,
        min_instalment_cents=row.min_instalment_cents,
        max_days=row.max_days,
        auto_approve=row.auto_approve,
        down_payment_pct=row.down_payment_pct,
        frequencies=tuple(f for f in row.frequencies.split(",") if f in schedules.FREQUENCIES),
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
    """A plan before anyone agreed to it: its invoices and schedule, as a debtor asks for
    it in the portal or an admin sets it up. `errors` stop it; `warnings` are the segment
    policy's rules it breaks (a debtor then asks for review; an admin may still offer it)."""

    debtor: Debtor
    invoices: list[Invoice]
    frequency: str
    policy: schedules.Policy
    schedule: schedules.Schedule = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(i.open_cents for i in self.invoices)

    @property
    def currency(self) -> str:
        return self.invoices[0].currency if self.invoices else "EUR"

    @property
    def problems(self) -> list[Problem]:
        """Everything that keeps it from being agreed online, errors first."""
        return self.errors + self.warnings

    @property
    def ok(self) -> bool:
        """It can be made: a schedule and no errors (an admin may offer it)."""
        return bool(self.schedule) and not self.errors

    @property
    def within_policy(self) -> bool:
        return self.ok and not self.warnings

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
    if frequency not in schedules.FREQUENCIES:
        return Problem(N_("Choose how often from the list."))
    return None


def arrange(
    total_cents: int,
    start: dt.date,
    frequency: str,
    count: int | None,
    per_instalment_cents: int | None,
    down_payment_pct: int,
) -> schedules.Schedule:
    """The schedule a form asks for: by amount per instalment when one is given, else by
    number of instalments. Raises ValueError for a schedule that cannot be made."""
    if per_instalment_cents is not None:
        return schedules.by_amount(
            total_cents, per_instalment_cents, start, frequency, down_payment_pct
        )
    return schedules.schedule(total_cents, count or 0, start, frequency, down_payment_pct)


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
    """The debtor's own proposal over their chosen eligible invoices (other ids are
    ignored), with the segment's down payment; judged against the segment's policy."""
    wanted = set(invoice_ids)
    chosen = [i for i in eligible_invoices(session, debtor.id) if i.id in wanted]
    policy = policy_for(session, debtor.segment_id)
    proposal = Proposal(debtor=debtor, invoices=chosen, frequency=frequency, policy=policy)
    refused = refusal(chosen, frequency)
    if refused is not None:
        proposal.errors.append(refused)
        return proposal
    proposal.errors.extend(schedules.check_start(start, today))
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
        proposal.errors.append(
            Problem(
                N_("A payment plan has at most %(count)d instalments."),
                count=policy.max_instalments,
            )
        )
        return proposal
    proposal.schedule = rows
    plan = schedules.plan_of(proposal.total_cents, rows, frequency)
    proposal.warnings.extend(schedules.check(policy, plan))
    return proposal


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
) -> Proposal:
    """An admin's proposal over the debtor's chosen invoices: the eligible ones, or for a
    change the still-open invoices of the plan it replaces. The down payment is the
    admin's; the policy's rules become warnings."""
    wanted = set(invoice_ids)
    if replacing is not None:
        pool = [link.invoice for link in replacing.invoices if _open(link.invoice)]
    else:
        pool = eligible_invoices(session, debtor.id)
    chosen = [i for i in pool if i.id in wanted]
    policy = policy_for(session, debtor.segment_id)
    result = Proposal(debtor=debtor, invoices=chosen, frequency=frequency, policy=policy)
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
            Problem(N_("A plan has from 1 to %(count)d instalments."), count=schedules.MAX_COUNT)
        )
        return result
    result.schedule = rows
    result.warnings = schedules.check(
        policy, schedules.plan_of(result.total_cents, rows, frequency)
    )
    return result


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
) -> Proposal:
    """The proposal of a successor to an active plan over what is still open of its invoices."""
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
