"""Choosing what to pay: the debtor's open invoices (with the costs and interest art. 6:44
BW settles first), or the next instalment of a plan; and judging the amount asked.
Nothing the browser sends sets an amount: the server decides the total and the split."""

from __future__ import annotations

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
