"""Starting payments and the payment state machine; the ledger books their money.

What to pay is chosen in `selection.py`; the money a payment brings or takes back is
booked by `portal.domain.ledger`.

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

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit, ledger, outgoing
from portal.domain.payments import receipts
from portal.domain.payments.providers.base import (
    CheckoutRequest,
    Method,
    Provider,
    ProviderStatus,
    Status,
)
from portal.domain.payments.selection import (
    PaymentRefused,
    check_amount,
    select_instalment,
    select_invoices,
)
from portal.domain.states import IllegalTransition, StateTable
from portal.models import Debtor, Invoice, PayLink, Payment, utcnow

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


def apply_status(payment: Payment, new: Status) -> bool:
    """Move `payment` to `new`; False when it is already there (a repeated webhook)."""
    old = Status(payment.status)
    if new == old:
        return False
    MOVES.check(old, new)
    payment.status = new.value
    return True


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


def reversal(truth: ProviderStatus) -> Status | None:
    """The state money taken back puts a payment in, decided once: charged back when the
    provider reports a chargeback, refunded for a refund, None when nothing came back."""
    if truth.charged_back_cents:
        return Status.CHARGED_BACK
    if truth.refunded_cents:
        return Status.REFUNDED
    return None


def apply_truth(
    session: Session,
    payment: Payment,
    truth: ProviderStatus,
    notifier: Notifier | None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Bring `payment` (locked by the caller) in line with the provider's truth.

    Money that arrived (paid, or refunded/charged back later) is booked once by the
    ledger; refunds and chargebacks reopen what they take back; an illegal transition is
    logged and leaves the payment as it was. The change set ends with the ledger's
    `open_amounts_changed` (plans, the shop's webhook, the collection agency).
    """
    now = now or utcnow()
    old = Status(payment.status)
    payment.checked_at = now
    payment.test_mode = truth.test_mode
    if truth.method is not None:
        payment.method = truth.method.value
    back = reversal(truth)
    money_arrived = truth.status == Status.PAID or back is not None
    target = Status.PAID if money_arrived else truth.status
    try:
        changed = (
            apply_status(payment, target) if old not in REVERSED or not money_arrived else False
        )
    except IllegalTransition as exc:
        log.warning("payment %s: ignored %s", payment.public_id, exc)
        return Outcome(False, old, old, note=f"illegal transition {exc}")
    change = ledger.Change(payment=payment)
    if changed and target == Status.PAID:
        change.booked = _book(session, payment, truth, now)
        if notifier is not None:
            notifier.paid(session, payment)
        change.events.append(Status.PAID)
    elif changed and target in UNSUCCESSFUL:
        payment.failed_at = now  # the second chance counts its delay from here
        _record_all(session, payment, f"payment.{target.value}")
        outgoing.payment_changed(session, payment, target)  # no money moved: no ledger
    if back is not None and _reverse(session, payment, truth, back):
        changed = True
        change.events.append(back)  # each new refund is an event
    if changed and money_arrived:  # an instalment may now be paid, or unpaid again
        change.invoice_ids.update(i.id for i in payment.invoices)
        ledger.open_amounts_changed(session, change, now)
    return Outcome(changed, old, Status(payment.status))


def _record_all(session: Session, payment: Payment, action: str) -> None:
    ids = [i.id for i in payment.invoices]
    audit.record_each(session, "system", action, payment.debtor_id, ids, payment=payment.public_id)


def _book(
    session: Session, payment: Payment, truth: ProviderStatus, now: dt.datetime
) -> ledger.Booked:
    """Record what arrived and let the ledger allocate it; a different amount or currency
    than asked, or money beyond what was open, flags the payment for admin."""
    payment.paid_at = now
    payment.received_cents = truth.amount_cents
    flags = []
    if truth.amount_cents != payment.amount_cents or truth.currency != payment.currency:
        flags.append(
            f"received {truth.currency} {truth.amount_cents / 100:.2f}, "
            f"asked {payment.currency} {payment.amount_cents / 100:.2f}"
        )
    cents = truth.amount_cents if truth.currency == payment.currency else 0
    booked = ledger.book_payment(session, payment, cents)
    if payment.unallocated_cents > 0:
        flags.append(f"credit balance {payment.unallocated_cents / 100:.2f} (more than was open)")
    if flags:
        payment.flag = "; ".join(flags)[:250]
    return booked


def _reverse(session: Session, payment: Payment, truth: ProviderStatus, target: Status) -> bool:
    """Move to refunded or charged back and let the ledger take the new part back."""
    before = payment.refunded_cents + payment.charged_back_cents
    after = min(truth.refunded_cents + truth.charged_back_cents, payment.received_cents)
    if after <= before:
        return False
    payment.refunded_cents = truth.refunded_cents
    payment.charged_back_cents = truth.charged_back_cents
    try:
        apply_status(payment, target)
    except IllegalTransition as exc:  # e.g. refunded -> refunded with a larger amount
        log.info("payment %s: %s", payment.public_id, exc)
    ledger.reverse_payment(session, payment, after - before, f"payment.{target.value}")
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
