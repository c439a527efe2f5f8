"""Starting payments, the payment state machine, and booking money on invoices.

Every change of a payment's state comes from the provider's current truth
(`Provider.fetch`), applied under a row lock by `apply_truth`. Applying the same truth
twice changes nothing, so duplicated, concurrent and out-of-order webhooks are safe; the
unique (payment, invoice) allocation is the database's last guard against double booking.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from portal.domain import audit, instalments, outgoing, plan_progress
from portal.domain.dunning import charges
from portal.domain.payments import receipts
from portal.domain.payments.providers.base import (
    CheckoutRequest,
    Method,
    Provider,
    ProviderStatus,
    Status,
)
from portal.domain.states import IllegalTransition, StateTable
from portal.models import (
    PAYABLE_KINDS,
    Allocation,
    Debtor,
    Instalment,
    InstalmentPlan,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PayLink,
    Payment,
    PaymentInvoice,
    PlanStatus,
    utcnow,
)

log = logging.getLogger(__name__)

FINAL = frozenset({Status.PAID, Status.FAILED, Status.CANCELED, Status.EXPIRED})
UNSUCCESSFUL = frozenset({Status.FAILED, Status.CANCELED, Status.EXPIRED})
REVERSED = frozenset({Status.REFUNDED, Status.CHARGED_BACK})
# The payment's state table; a provider may skip states. A move it does not list raises
# `IllegalTransition` (logged, and answered 200 by webhooks).
MOVES = StateTable(
    "payment",
    {
        Status.CREATED: {Status.OPEN, Status.PENDING, Status.AUTHORIZED} | FINAL,
        Status.OPEN: {Status.PENDING, Status.AUTHORIZED} | FINAL,
        Status.PENDING: {Status.AUTHORIZED} | FINAL,
        Status.AUTHORIZED: FINAL,
        Status.PAID: REVERSED,
        Status.FAILED: (),
        Status.CANCELED: (),
        Status.EXPIRED: (),
        Status.REFUNDED: {Status.CHARGED_BACK},
        Status.CHARGED_BACK: {Status.REFUNDED},
    },
)


class PaymentRefused(Exception):
    """The debtor's request cannot become a payment; `reason` is a stable code for the UI."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def apply_status(payment: Payment, new: Status) -> bool:
    """Move `payment` to `new`; False when it is already there (a repeated webhook)."""
    old = Status(payment.status)
    if new == old:
        return False
    MOVES.check(old, new)
    payment.status = new.value
    return True


# --------------------------------------------------------------------------- choosing
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


def _settle_rank(kind: str) -> int:
    return PAYABLE_KINDS.index(kind) if kind in PAYABLE_KINDS else len(PAYABLE_KINDS)


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


def settle_order(invoice: Invoice) -> tuple[int, dt.date, int]:
    """Art. 6:44 BW: costs, then interest, then the principal; oldest due date first."""
    return (_settle_rank(invoice.kind), invoice.due_date, invoice.id)


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
        .options(*instalments.with_parts())
    )
    if plan is None:
        raise PaymentRefused("instalment_not_payable")
    plan_progress.refresh(session, plan, utcnow())  # money booked another way counts at once
    instalment = plan_progress.first_open(plan)
    if instalment is None or instalment.id != instalment_id:
        raise PaymentRefused("instalment_not_payable")
    invoices = plan_progress.open_invoices(plan)
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


def offered_methods(provider: Provider, debtor: Debtor, currency: str) -> tuple[Method, ...]:
    """The methods to show, in order: the brand's choice, what the provider can do in this
    currency, Bancontact first for Belgian debtors and iDEAL first for Dutch ones."""
    wanted = [m.strip() for m in debtor.brand.payment_methods.split(",") if m.strip()]
    methods = [Method(m) for m in wanted if m in Method.__members__.values()]
    methods = [m for m in methods if provider.supports(m, currency)]
    first = Method.BANCONTACT if debtor.country == "BE" else Method.IDEAL
    methods.sort(key=lambda m: (m != first, wanted.index(m.value)))
    return tuple(methods)


LOCALES = {"nl": {"BE": "nl_BE"}, "fr": {"BE": "fr_BE"}, "en": {}}


def locale_for(debtor: Debtor) -> str:
    """Provider locale such as nl_NL, nl_BE, fr_BE, en_US."""
    default = {"nl": "nl_NL", "fr": "fr_FR", "en": "en_US"}.get(debtor.language, "nl_NL")
    return LOCALES.get(debtor.language, {}).get(debtor.country, default)


@dataclass(frozen=True)
class StartRequest:
    """What the route parsed; the amount is only a wish that `check_amount` judges."""

    invoice_ids: Sequence[int]
    method: Method | None
    amount_cents: int | None = None
    pay_link: PayLink | None = None
    instalment_id: int | None = None
    submit_token: str | None = None  # the pay form's own token: one payment per form


def submitted_before(session: Session, debtor: Debtor, submit_token: str | None) -> Payment | None:
    """The payment an earlier submit of the same pay form started, if any.

    The debtor's row is locked first (SQLite: the transaction began IMMEDIATE), so two
    submits at once take turns and the second finds the first one's payment; the unique
    (debtor, submit token) is the last guard."""
    if not submit_token:
        return None
    session.execute(select(Debtor.id).where(Debtor.id == debtor.id).with_for_update())
    return session.scalar(
        select(Payment).where(Payment.debtor_id == debtor.id, Payment.submit_token == submit_token)
    )


def start(
    session: Session,
    provider: Provider,
    debtor: Debtor,
    wish: StartRequest,
    *,
    return_url: Callable[[str], str],
    webhook_url: str | None,
    description: Callable[[Sequence[Invoice]], str],
) -> Payment:
    """Create the payment and its provider checkout; the caller redirects to checkout_url.

    Raises PaymentRefused for a request we will not turn into a payment and
    ProviderError when the provider cannot be reached (the caller rolls back). A second
    submit of the same form (`wish.submit_token`) gets the payment the first one started:
    a double click or a reload is one payment, not two.
    """
    earlier = submitted_before(session, debtor, wish.submit_token)
    if earlier is not None:
        return earlier
    if wish.instalment_id is not None:
        selection = select_instalment(session, debtor, wish.instalment_id)
    else:
        selection = select_invoices(session, debtor, wish.invoice_ids)
    amount = check_amount(selection, wish.amount_cents)
    methods = offered_methods(provider, debtor, selection.currency)
    if not methods:
        raise PaymentRefused("no_method")
    if wish.method is not None and wish.method not in methods:
        raise PaymentRefused("method_not_offered")
    payment = Payment(
        public_id=secrets.token_urlsafe(16),
        reference=receipts.next_reference(session, utcnow().year),
        brand_id=debtor.brand_id,
        debtor_id=debtor.id,
        pay_link_id=wish.pay_link.id if wish.pay_link else None,
        instalment_id=selection.instalment.id if selection.instalment else None,
        provider=provider.name,
        method=wish.method.value if wish.method else None,
        amount_cents=amount,
        currency=selection.currency,
        description=description(selection.invoices)[:250],
        invoices=list(selection.invoices),
        submit_token=wish.submit_token or None,
    )
    session.add(payment)
    session.flush()
    checkout = provider.create(
        CheckoutRequest(
            reference=payment.public_id,
            amount_cents=amount,
            currency=payment.currency,
            description=payment.description,
            methods=methods,
            method=wish.method,
            locale=locale_for(debtor),
            return_url=return_url(payment.public_id),
            webhook_url=webhook_url,
            metadata={"reference": payment.public_id, "debtor": debtor.number},
        )
    )
    payment.provider_ref = checkout.provider_ref
    payment.checkout_url = checkout.checkout_url
    apply_status(payment, checkout.status)
    audit.record_each(
        session,
        f"debtor:{debtor.id}",
        "payment.started",
        debtor.id,
        [i.id for i in selection.invoices],
        payment=payment.public_id,
        amount_cents=amount,
        currency=payment.currency,
        provider=provider.name,
    )
    return payment


# --------------------------------------------------------------------------- applying
class Notifier(Protocol):
    """Mails that follow a change (the receipt); written to the outbox by the caller's app."""

    def paid(self, session: Session, payment: Payment) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What applying the provider's truth did."""

    changed: bool
    old: Status
    new: Status
    note: str = ""


def locked(session: Session, payment_id: int) -> Payment:
    """Load a payment with a row lock (SQLite: the transaction began IMMEDIATE)."""
    # populate_existing: the payment may already sit in the session, loaded before the lock
    return session.execute(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def by_provider_ref(session: Session, provider: str, ref: str) -> Payment | None:
    """Our payment for a provider's reference, or None."""
    return session.scalar(
        select(Payment).where(Payment.provider == provider, Payment.provider_ref == ref)
    )


def apply_truth(
    session: Session,
    payment: Payment,
    truth: ProviderStatus,
    notifier: Notifier | None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Bring `payment` (locked by the caller) in line with the provider's truth.

    Money that arrived (paid, or refunded/charged back later) is booked once, oldest due
    date first; refunds and chargebacks reopen what they take back; an illegal transition
    is logged and leaves the payment as it was.
    """
    now = now or utcnow()
    old = Status(payment.status)
    payment.checked_at = now
    payment.test_mode = truth.test_mode
    if truth.method is not None:
        payment.method = truth.method.value
    money_arrived = truth.status == Status.PAID or truth.refunded_cents or truth.charged_back_cents
    target = Status.PAID if money_arrived else truth.status
    try:
        changed = (
            apply_status(payment, target) if old not in REVERSED or not money_arrived else False
        )
    except IllegalTransition as exc:
        log.warning("payment %s: ignored %s", payment.public_id, exc)
        return Outcome(False, old, old, note=f"illegal transition {exc}")
    if changed and target == Status.PAID:
        _book(session, payment, truth, now)
        if notifier is not None:
            notifier.paid(session, payment)
        outgoing.payment_changed(session, payment, Status.PAID)  # the shop's webhook
    elif changed and target in UNSUCCESSFUL:
        payment.failed_at = now  # the second chance counts its delay from here
        _record_all(session, payment, f"payment.{target.value}")
        outgoing.payment_changed(session, payment, target)
    if money_arrived:
        changed = _reverse(session, payment, truth) or changed
    if changed and money_arrived:  # an instalment may now be paid, or unpaid again
        plan_progress.after_money(session, [i.id for i in payment.invoices], now)
    return Outcome(changed, old, Status(payment.status))


def _record_all(session: Session, payment: Payment, action: str) -> None:
    ids = [i.id for i in payment.invoices]
    audit.record_each(session, "system", action, payment.debtor_id, ids, payment=payment.public_id)


def _book(session: Session, payment: Payment, truth: ProviderStatus, now: dt.datetime) -> None:
    """Create the allocations: oldest due date first; the rest is the debtor's credit."""
    payment.paid_at = now
    payment.received_cents = truth.amount_cents
    flags = []
    if truth.amount_cents != payment.amount_cents or truth.currency != payment.currency:
        flags.append(
            f"received {truth.currency} {truth.amount_cents / 100:.2f}, "
            f"asked {payment.currency} {payment.amount_cents / 100:.2f}"
        )
    # the unique (payment, invoice) allocation guards against a second booking; the state
    # table makes this run once per payment
    invoices = session.scalars(
        select(Invoice)
        .join(PaymentInvoice, PaymentInvoice.invoice_id == Invoice.id)
        .where(PaymentInvoice.payment_id == payment.id)
        .order_by(Invoice.id)
        .with_for_update(of=Invoice)
        .execution_options(populate_existing=True)
    ).all()
    remaining = truth.amount_cents if truth.currency == payment.currency else 0
    booked: list[tuple[Invoice, int]] = []
    # art. 6:44 BW: costs, then interest, then the principal, oldest due date first
    for invoice in sorted(invoices, key=settle_order):
        take = min(remaining, max(invoice.open_cents, 0))
        if take <= 0 or invoice.kind not in PAYABLE_KINDS:
            continue
        session.add(Allocation(payment=payment, invoice=invoice, amount_cents=take))
        invoice.open_cents -= take
        if invoice.open_cents == 0 and invoice.status == InvoiceStatus.OPEN:
            invoice.status = InvoiceStatus.PAID.value
        booked.append((invoice, take))
        remaining -= take
        audit.record(
            session,
            "system",
            "payment.received",
            debtor_id=payment.debtor_id,
            invoice_id=invoice.id,
            payment=payment.public_id,
            amount_cents=take,
            currency=payment.currency,
            method=payment.method,
        )
    if remaining > 0:
        payment.unallocated_cents = remaining
        flags.append(f"credit balance {remaining / 100:.2f} (more than was open)")
    if flags:
        payment.flag = "; ".join(flags)[:250]
    session.flush()
    handed_over = any(i.status == InvoiceStatus.HANDED_OVER.value for i, _cents in booked)
    if handed_over and payment.provider != "agency":
        from portal.domain.collection import handover

        # the agency that handles these invoices hears of money paid in the portal (and a
        # claim with nothing left open is closed); what it collected itself it knows
        handover.after_portal_payment(session, payment.debtor_id, booked, payment.public_id)


def _reverse(session: Session, payment: Payment, truth: ProviderStatus) -> bool:
    """Reopen what a refund or chargeback took back: credit first, then newest booking."""
    before = payment.refunded_cents + payment.charged_back_cents
    after = min(truth.refunded_cents + truth.charged_back_cents, payment.received_cents)
    if after <= before:
        return False
    delta = after - before
    payment.refunded_cents = truth.refunded_cents
    payment.charged_back_cents = truth.charged_back_cents
    target = Status.CHARGED_BACK if truth.charged_back_cents else Status.REFUNDED
    try:
        apply_status(payment, target)
    except IllegalTransition as exc:  # e.g. refunded -> refunded with a larger amount
        log.info("payment %s: %s", payment.public_id, exc)
    outgoing.payment_changed(session, payment, target)  # each new refund is an event
    from_credit = min(delta, payment.unallocated_cents)
    payment.unallocated_cents -= from_credit
    delta -= from_credit
    for allocation in reversed(payment.allocations):
        if delta <= 0:
            break
        back = min(delta, allocation.amount_cents - allocation.reversed_cents)
        if back <= 0:
            continue
        allocation.reversed_cents += back
        invoice = allocation.invoice
        invoice.open_cents = min(invoice.total_cents, invoice.open_cents + back)
        if invoice.status == InvoiceStatus.PAID:
            invoice.status = InvoiceStatus.OPEN.value
        delta -= back
        audit.record(
            session,
            "system",
            f"payment.{target.value}",
            debtor_id=payment.debtor_id,
            invoice_id=invoice.id,
            payment=payment.public_id,
            amount_cents=back,
            currency=payment.currency,
        )
    return True


def sync(
    session: Session,
    provider: Provider,
    payment_id: int,
    notifier: Notifier | None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Ask the provider for the truth, then apply it under a row lock (one transaction)."""
    unlocked = session.get_one(Payment, payment_id)  # no query when already loaded
    ref = unlocked.provider_ref
    if ref is None:
        status = Status(unlocked.status)
        return Outcome(False, status, status, note="not created at the provider")
    truth = provider.fetch(ref)  # network call before taking the lock
    payment = locked(session, payment_id)
    return apply_truth(session, payment, truth, notifier, now)


RECHECK_AFTER = dt.timedelta(minutes=2)
RECHECK_UNTIL = dt.timedelta(days=2)
NOT_FINAL = (Status.CREATED, Status.OPEN, Status.PENDING, Status.AUTHORIZED)


def recheck_open(
    session: Session,
    provider_for: Callable[[str], Provider],
    notifier: Notifier | None,
    now: dt.datetime | None = None,
) -> int:
    """Sync payments still open after a few minutes (a webhook may be lost, or left out
    because BASE_URL is not public). One transaction per payment; returns how many changed.
    """
    now = now or utcnow()
    ids = session.scalars(
        select(Payment.id)
        .where(
            Payment.status.in_([s.value for s in NOT_FINAL]),
            Payment.provider_ref.is_not(None),
            Payment.created_at <= now - RECHECK_AFTER,
            Payment.created_at >= now - RECHECK_UNTIL,
        )
        .order_by(Payment.id)
        .limit(1000)
    ).all()
    session.commit()
    changed = 0
    for payment_id in ids:
        provider_name = session.scalar(select(Payment.provider).where(Payment.id == payment_id))
        try:
            outcome = sync(session, provider_for(provider_name or ""), payment_id, notifier, now)
        except Exception:  # one unreachable provider or odd payment must not stop the rest
            session.rollback()
            log.exception("re-check of payment %s failed", payment_id)
            continue
        session.commit()
        changed += outcome.changed
    return changed
