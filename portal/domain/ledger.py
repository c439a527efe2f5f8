"""The ledger: the one place where money changes what is open on invoices.

Every source of money books here, whatever it is: a provider's payment (`book_payment`,
its refunds and chargebacks `reverse_payment`), the collection agency's money (a payment
of provider `agency`, booked the same way), credit notes and write-offs (`credit`), and an
import that reports money paid elsewhere (`settle_elsewhere`, `paid_elsewhere`). Open
amounts never go below zero; what is paid beyond them is the debtor's credit balance
(`Payment.unallocated_cents`).

A change set ends with one call of `open_amounts_changed`, which tells whoever listens:
running payment plans (what is paid fills their instalments), the shop's outgoing
webhooks, and the collection agency (money paid in the portal on invoices it handles is
reported; a hand-over with nothing left open is closed). Insight reads the audit trail at
night and needs no call. Modules that book money import the ledger, never plans; the
ledger imports its listeners only when it calls them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.domain import audit, outgoing
from portal.domain.bulk import insert_rows
from portal.domain.dunning import charges
from portal.domain.payments.providers.base import Status
from portal.models import (
    PAYABLE_KINDS,
    Allocation,
    AuditEvent,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentInvoice,
    utcnow,
)

Booked = list[tuple[Invoice, int]]  # (invoice, cents) in the order they were booked


def settle_order(invoice: Invoice) -> tuple[int, dt.date, int]:
    """Art. 6:44 BW: costs, then interest, then the principal; oldest due date first."""
    rank = PAYABLE_KINDS.index(invoice.kind) if invoice.kind in PAYABLE_KINDS else 99
    return (rank, invoice.due_date, invoice.id)


@dataclass
class Change:
    """What one change set did to open amounts, for `open_amounts_changed`."""

    invoice_ids: set[int] = field(default_factory=set)
    brand_id: int | None = None  # a whole import batch: every running plan of the brand
    payment: Payment | None = None
    booked: Booked = field(default_factory=list)  # the payment's new allocations
    events: list[Status] = field(default_factory=list)  # the payment's webhook events

    def __bool__(self) -> bool:
        return bool(self.invoice_ids or self.brand_id or self.events)


# --------------------------------------------------------------------------- payments
def book_payment(session: Session, payment: Payment, cents: int) -> Booked:
    """Allocate `cents` received for `payment` over its invoices (art. 6:44 BW order);
    what is left is the debtor's credit balance. Returns what was booked where.

    The unique (payment, invoice) allocation guards against a second booking; the
    payment's state table makes this run once per payment."""
    invoices = session.scalars(
        select(Invoice)
        .join(PaymentInvoice, PaymentInvoice.invoice_id == Invoice.id)
        .where(PaymentInvoice.payment_id == payment.id)
        .order_by(Invoice.id)
        .with_for_update(of=Invoice)
        .execution_options(populate_existing=True)
    ).all()
    remaining = cents
    booked: Booked = []
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
    payment.unallocated_cents = max(remaining, 0)
    session.flush()
    return booked


def reverse_payment(session: Session, payment: Payment, cents: int, action: str) -> list[int]:
    """Take `cents` of `payment` back (a refund or chargeback): from the credit balance
    first, then from the newest booking, reopening what it had settled. Returns the ids
    of the invoices reopened."""
    from_credit = min(cents, payment.unallocated_cents)
    payment.unallocated_cents -= from_credit
    cents -= from_credit
    reopened = []
    for allocation in reversed(payment.allocations):
        if cents <= 0:
            break
        back = min(cents, allocation.amount_cents - allocation.reversed_cents)
        if back <= 0:
            continue
        allocation.reversed_cents += back
        invoice = allocation.invoice
        invoice.open_cents = min(invoice.total_cents, invoice.open_cents + back)
        if invoice.status == InvoiceStatus.PAID:
            invoice.status = InvoiceStatus.OPEN.value
        cents -= back
        reopened.append(invoice.id)
        audit.record(
            session,
            "system",
            action,
            debtor_id=payment.debtor_id,
            invoice_id=invoice.id,
            payment=payment.public_id,
            amount_cents=back,
            currency=payment.currency,
        )
    return reopened


# --------------------------------------------------------------------------- credits
def credit(
    session: Session, invoice: Invoice, cents: int, number: str, description: str, day: dt.date
) -> Invoice:
    """A credit note of `cents` set off against `invoice` (resolving a dispute, or a
    write-off): the invoice's open amount goes down and it is settled at zero; the note
    itself is used up at once. The caller checks 0 < cents <= open and holds the lock."""
    note = Invoice(
        brand_id=invoice.brand_id,
        debtor_id=invoice.debtor_id,
        number=number[:40],
        kind=InvoiceKind.CREDIT_NOTE.value,
        invoice_date=day,
        due_date=day,
        currency=invoice.currency,
        total_cents=-cents,
        open_cents=0,
        status=InvoiceStatus.PAID.value,
        reference=invoice.number,
        description=description[:500],
    )
    session.add(note)
    invoice.open_cents -= cents
    if invoice.open_cents == 0 and invoice.status == InvoiceStatus.OPEN.value:
        invoice.status = InvoiceStatus.PAID.value
    session.flush()
    return note


# --------------------------------------------------------------------------- imports
def settle_elsewhere(session: Session, paid: dict[int, int], actor: str) -> dict[int, int]:
    """Money an import reports as paid elsewhere (invoice id → cents): the claims' costs
    and interest are settled first (art. 6:44 BW, `charges.settle_first`); returns per
    invoice what is left for its principal, which the import then writes."""
    return charges.settle_first(session, paid, actor)


def paid_elsewhere(
    session: Session,
    invoice_ids: Sequence[int],
    columns: dict[int, dict[str, Any]],
    actor: str,
    now: dt.datetime,
) -> None:
    """Invoices that left the accounting package's open list: paid elsewhere, at zero
    (`columns` may set other values per invoice, such as the file's last open amount)."""
    if not invoice_ids:
        return
    session.execute(
        update(Invoice),
        [
            {
                "id": i,
                "open_cents": 0,
                "status": InvoiceStatus.PAID.value,
                **columns.get(i, {}),
                "updated_at": now,
            }
            for i in invoice_ids
        ],
    )
    insert_rows(
        session,
        AuditEvent,
        [
            {
                "at": now,
                "actor": actor,
                "action": "invoice.paid_elsewhere",
                "debtor_id": None,
                "invoice_id": i,
                "details": {},
            }
            for i in invoice_ids
        ],
    )


# --------------------------------------------------------------------------- listeners
def open_amounts_changed(session: Session, change: Change, now: dt.datetime | None = None) -> None:
    """The end of every change set: tell plans, the shop's webhooks and the collection
    agency what changed. Called once per change set, after the bookings."""
    if not change:
        return
    # the listeners sit above the ledger (plans and the hand-over book money through it):
    # imported here, so that the import graph has no cycle
    from portal.domain.collection import handover
    from portal.domain.plans import progress

    now = now or utcnow()
    payment = change.payment
    for status in change.events:
        if payment is not None:
            outgoing.payment_changed(session, payment, status)  # the shop's webhook
    if payment is not None and payment.provider != "agency" and change.booked:
        if any(i.status == InvoiceStatus.HANDED_OVER.value for i, _c in change.booked):
            # the agency that handles these invoices hears of money paid in the portal
            # (and a claim with nothing left open is closed); what it collected it knows
            handover.after_portal_payment(
                session, payment.debtor_id, change.booked, payment.public_id
            )
    elif change.invoice_ids:
        _settle_handed_over(session, change.invoice_ids)
    if change.brand_id is not None:
        progress.after_import(session, change.brand_id, now)
    if change.invoice_ids:
        progress.after_money(session, sorted(change.invoice_ids), now)


def _settle_handed_over(session: Session, invoice_ids: set[int]) -> None:
    """Handed-over invoices with nothing left open close their hand-over (money the
    agency collected, a write-off, a credit)."""
    from portal.domain.collection import handover

    done = session.scalars(
        select(Invoice).where(
            Invoice.id.in_(invoice_ids),
            Invoice.status == InvoiceStatus.HANDED_OVER.value,
            Invoice.open_cents <= 0,
        )
    ).all()
    for invoice in done:
        h = handover.active_of_invoice(session, invoice.id)
        if h is not None:
            handover.settle_if_done(session, h)
        else:
            invoice.status = InvoiceStatus.PAID.value
