"""What a debtor keeps of a payment: a reference to read aloud (BP-2026-000123), the
list of their payments, and a receipt per payment.

Numbers run per calendar year. One `payment_number` row a year is raised by a single
UPDATE ... RETURNING: PostgreSQL locks the row, SQLite's writer lock (BEGIN IMMEDIATE,
see db.py) serialises writers, so two payments never draw the same number; the unique
constraint on `payment.reference` stays the last guard.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from portal.models import Allocation, Payment, PaymentNumber

# what a debtor's Payments page lists: money that came in, and attempts that failed
SHOWN = ("paid", "refunded", "charged_back", "failed", "canceled", "expired", "pending")
RECEIPT_STATES = ("paid", "refunded", "charged_back")


def next_reference(session: Session, year: int) -> str:
    """The next payment reference of `year`, e.g. "BP-2026-000123"."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(PaymentNumber)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    number = session.execute(
        update(PaymentNumber)
        .where(PaymentNumber.year == year)
        .values(last=PaymentNumber.last + 1)
        .returning(PaymentNumber.last)
    ).scalar_one()
    return f"BP-{year}-{number:06d}"


def reference_of(payment: Payment) -> str:
    """The payment's reference; a payment from before references existed shows its id."""
    return payment.reference or payment.public_id


def for_debtor(session: Session, debtor_id: int, limit: int = 200) -> Sequence[Payment]:
    """The debtor's payments, newest first, with the invoices they were for."""
    return session.scalars(
        select(Payment)
        .where(Payment.debtor_id == debtor_id, Payment.status.in_(SHOWN))
        .options(selectinload(Payment.invoices))
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(limit)
    ).all()


def get_for_debtor(session: Session, debtor_id: int, public_id: str) -> Payment | None:
    """One of the debtor's own payments, or None (a 404)."""
    return session.scalar(
        select(Payment).where(Payment.debtor_id == debtor_id, Payment.public_id == public_id)
    )


def allocations(session: Session, payment: Payment) -> Sequence[Allocation]:
    """How the payment was booked on invoices (costs, interest, then principal)."""
    return session.scalars(
        select(Allocation)
        .where(Allocation.payment_id == payment.id)
        .options(selectinload(Allocation.invoice))
        .order_by(Allocation.id)
    ).all()
