"""Choosing what to pay: the debtor's open invoices (with the costs and interest art. 6:44
BW settles first), or the next instalment of a plan; and judging the amount asked.
Nothing the browser sends sets an amount: the server decides the total and the split."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from portal.domain.dunning import charges
from portal.domain.ledger import settle_order
from portal.domain.plans import listing, progress
from portal.models import (
    PAYABLE_KINDS,
    Debtor,
    Instalment,
    InstalmentPlan,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PlanStatus,
    utcnow,
)


class PaymentRefused(Exception):
    """The debtor's request cannot become a payment; `reason` is a stable code for the UI."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Selection:
    """Open invoices of one debtor chosen to pay together; the server's own total."""

    debtor: Debtor
    invoices: Sequence[Invoice]
    instalment: Instalment | None = None  # paying one instalment of a plan over `invoices`

    @property
    def total_cents(self) -> int:
        return sum(i.open_cents for i in self.invoices)

    @property
    def due_cents(self) -> int:
        """What this payment asks: the open total, or the instalment's open part."""
        if self.instalment is None:
            return self.total_cents
        return min(self.instalment.open_cents, self.total_cents)

    @property
    def currency(self) -> str:
        return self.invoices[0].currency if self.invoices else "EUR"

    @property
    def min_cents(self) -> int | None:
        """The smallest part payment allowed, or None when the segment allows none (an
        instalment is paid whole)."""
        segment = self.debtor.segment
        if self.instalment is not None:
            return None
        if segment is None or not segment.allow_partial:
            return None
        return min(segment.partial_min_cents, self.total_cents)


def payable_query(debtor_id: int) -> list[object]:
    """Conditions for an invoice the debtor can pay now: open, or handed over to an agency
    that lets debtors still pay in the portal."""
    from portal.domain.collection import handover

    return [
        Invoice.debtor_id == debtor_id,
        or_(
            Invoice.status == InvoiceStatus.OPEN.value,
            and_(
                Invoice.status == InvoiceStatus.HANDED_OVER.value,
                Invoice.id.in_(handover.portal_payable_ids()),  # type: ignore[arg-type]
            ),
        ),
        Invoice.kind.in_(PAYABLE_KINDS),
        Invoice.open_cents > 0,
    ]


def select_invoices(session: Session, debtor: Debtor, invoice_ids: Sequence[int]) -> Selection:
    """The debtor's payable invoices among `invoice_ids`; refuses anything else.

    An id of another debtor, a paid invoice or a credit note refuses the whole request:
    a tampered form never pays a part of what the person thinks they are paying.
    """
    wanted = set(invoice_ids)
    if not wanted or len(wanted) > 200:
        raise PaymentRefused("nothing_selected" if not wanted else "too_many")
    rows = session.scalars(
        select(Invoice)
        .where(Invoice.id.in_(wanted), *payable_query(debtor.id))  # type: ignore[arg-type]
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    if len(rows) != len(wanted):
        raise PaymentRefused("not_payable")
    return with_charges(session, debtor, rows)


def with_charges(session: Session, debtor: Debtor, invoices: Sequence[Invoice]) -> Selection:
    """A selection of `invoices` together with the open costs and interest of their claims:
    art. 6:44 BW settles those before the principal, so paying an invoice pays them too
    (and the amount asked says so). Costs first, then interest, then invoices by due date."""
    chosen = {i.id: i for i in invoices}
    principal = [i.id for i in invoices if i.kind == InvoiceKind.INVOICE.value]
    for line in charges.charges_of_invoices(session, principal):
        if line.debtor_id == debtor.id:
            chosen.setdefault(line.id, line)
    rows = sorted(chosen.values(), key=settle_order)
    if len({i.currency for i in rows}) > 1:
        raise PaymentRefused("mixed_currency")
    return Selection(debtor, rows)


def select_instalment(session: Session, debtor: Debtor, instalment_id: int) -> Selection:
    """The next instalment to pay of one of the debtor's active plans, over the plan's
    open invoices. Any other instalment (paid, later, of another debtor or of a plan that
    ended) is refused: money always fills the oldest instalment first."""
    plan = session.scalar(
        select(InstalmentPlan)
        .join(Instalment, Instalment.plan_id == InstalmentPlan.id)
        .where(
            Instalment.id == instalment_id,
            InstalmentPlan.debtor_id == debtor.id,
            InstalmentPlan.status == PlanStatus.ACTIVE.value,
        )
        .options(*listing.with_parts())
    )
    if plan is None:
        raise PaymentRefused("instalment_not_payable")
    progress.refresh(session, plan, utcnow())  # money booked another way counts at once
    instalment = progress.first_open(plan)
    if instalment is None or instalment.id != instalment_id:
        raise PaymentRefused("instalment_not_payable")
    invoices = progress.open_invoices(plan)
    if not invoices:
        raise PaymentRefused("instalment_not_payable")
    return Selection(debtor, invoices, instalment)


def check_amount(selection: Selection, amount_cents: int | None) -> int:
    """The amount to ask: the open total, or a part payment the segment allows."""
    if selection.instalment is not None:
        if amount_cents is not None and amount_cents != selection.due_cents:
            raise PaymentRefused("partial_not_allowed")
        return selection.due_cents
    total = selection.total_cents
    if amount_cents is None or amount_cents == total:
        return total
    minimum = selection.min_cents
    if minimum is None:
        raise PaymentRefused("partial_not_allowed")
    if amount_cents > total:
        raise PaymentRefused("amount_too_high")
    if amount_cents < minimum:
        raise PaymentRefused("amount_too_low")
    return amount_cents


def payable_among(session: Session, debtor: Debtor, invoice_ids: Sequence[int]) -> list[int]:
    """The ids among `invoice_ids` the debtor can pay now, at most 200; a remembered
    selection may have gone stale (paid meanwhile), and stale ids are simply dropped."""
    wanted = {i for i in invoice_ids if i > 0}
    if not wanted:
        return []
    rows = session.scalars(
        select(Invoice.id)
        .where(Invoice.id.in_(wanted), *payable_query(debtor.id))  # type: ignore[arg-type]
        .order_by(Invoice.due_date, Invoice.id)
        .limit(200)
    ).all()
    return list(rows)


PAY_ALL_SCOPES = ("overdue", "open")
# what "pay all" leaves out: a disputed invoice waits for our answer, and an invoice in a
# plan is paid by its instalments (it is not overdue while the plan runs)
_NOT_IN_PAY_ALL = {"overdue": ("dispute", "plan"), "open": ("dispute",)}


def _pay_all_rows(session: Session, debtor: Debtor, scope: str, today: dt.date) -> list[Invoice]:
    where = [
        *payable_query(debtor.id),
        Invoice.kind == InvoiceKind.INVOICE.value,
        Invoice.hold_reason.not_in(_NOT_IN_PAY_ALL[scope]),
    ]
    if scope == "overdue":
        where.append(Invoice.due_date < today)
    return list(
        session.scalars(
            select(Invoice).where(*where).order_by(Invoice.due_date, Invoice.id).limit(201)  # type: ignore[arg-type]
        )
    )


def _checked(rows: Sequence[Invoice]) -> None:
    if not rows or len(rows) > 200:
        raise PaymentRefused("nothing_selected" if not rows else "too_many")


def select_all(session: Session, debtor: Debtor, scope: str, today: dt.date) -> Selection:
    """Every invoice of the debtor to pay in one go: `overdue` (past its due date) or
    `open` (everything open), with their costs and interest; disputed invoices stay out,
    and for `overdue` also the invoices of a running plan."""
    if scope not in PAY_ALL_SCOPES:
        raise PaymentRefused("nothing_selected")
    rows = _pay_all_rows(session, debtor, scope, today)
    _checked(rows)
    return with_charges(session, debtor, rows)


@dataclass(frozen=True)
class PayAll:
    """The two one-click offers of the overview and the list, with their amounts."""

    overdue: Selection | None
    everything: Selection | None


def pay_all_offers(session: Session, debtor: Debtor, today: dt.date) -> PayAll:
    """What "pay all overdue" and "pay everything open" would pay now (None: nothing, or
    not in one payment, e.g. several currencies). Two queries when no costs are open."""
    rows = _pay_all_rows(session, debtor, "open", today)
    skip = _NOT_IN_PAY_ALL["overdue"]
    late = [r for r in rows if r.due_date < today and r.hold_reason not in skip]

    def offer(chosen: list[Invoice], known: Selection | None = None) -> Selection | None:
        try:
            _checked(chosen)
            if known is not None:  # no costs or interest among everything: none here either
                return Selection(debtor, chosen)
            return with_charges(session, debtor, chosen)
        except PaymentRefused:
            return None

    everything = offer(rows)
    no_charges = everything is not None and len(everything.invoices) == len(rows)
    overdue = offer(late, everything if no_charges else None)
    if (
        everything
        and overdue
        and {i.id for i in everything.invoices} == {i.id for i in overdue.invoices}
    ):
        everything = None  # one button says it all
    return PayAll(overdue, everything)
