"""Open amounts by age: not due, 1-30, 31-60, 61-90 and over 90 days past the due date.

An invoice due today is not due yet; one due yesterday is 1 day overdue. Totals and counts
per group (all, brand, segment) and per debtor; `invoices` lists what is behind a figure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.api import TEST_PREFIX
from portal.domain.insight.book import CURRENCY, Book
from portal.domain.insight.dso import group_keys
from portal.models import Debtor, Invoice, InvoiceKind, InvoiceStatus

# (first, last) days overdue of each bucket; None: open-ended
BUCKETS: tuple[tuple[int | None, int | None], ...] = (
    (None, 0),
    (1, 30),
    (31, 60),
    (61, 90),
    (91, None),
)
NAMES = ("not_due", "1-30", "31-60", "61-90", "90+")
PAGE = 25


def bucket_of(days_overdue: int) -> int:
    """The bucket (0-4) of an invoice so many days past its due date."""
    if days_overdue <= 0:
        return 0
    if days_overdue <= 30:
        return 1
    if days_overdue <= 60:
        return 2
    if days_overdue <= 90:
        return 3
    return 4


def empty() -> list[list[int]]:
    """[count, cents] for each bucket, all zero."""
    return [[0, 0] for _ in BUCKETS]


@dataclass
class DebtorAge:
    """One debtor's open amounts by age."""

    brand_id: int
    segment_id: int
    buckets: list[list[int]]

    @property
    def open_cents(self) -> int:
        return sum(cents for _count, cents in self.buckets)

    @property
    def overdue_cents(self) -> int:
        return sum(cents for _count, cents in self.buckets[1:])


@dataclass
class Ageing:
    """Buckets per group key ("all", "brand:<id>", "segment:<id>") and per debtor."""

    groups: dict[str, list[list[int]]]
    debtors: dict[int, DebtorAge]


def ageing(book: Book) -> Ageing:
    """Open amounts by age on the book's day."""
    today = book.day.toordinal()
    groups: dict[str, list[list[int]]] = {"all": empty()}
    debtors: dict[int, DebtorAge] = {}
    for row in range(len(book)):
        if not book.is_open(row) or book.open[row] <= 0:
            continue
        bucket = bucket_of(today - book.due[row])
        cents = book.open[row]
        for key in group_keys(book, row):
            cell = groups.setdefault(key, empty())[bucket]
            cell[0] += 1
            cell[1] += cents
        debtor = debtors.get(book.debtor[row])
        if debtor is None:
            debtor = debtors[book.debtor[row]] = DebtorAge(
                book.brand[row], book.segment[row], empty()
            )
        debtor.buckets[bucket][0] += 1
        debtor.buckets[bucket][1] += cents
    return Ageing(groups, debtors)


def due_range(bucket: int, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The due dates (earliest, latest; None: open-ended) of a bucket on `day`."""
    first, last = BUCKETS[bucket]
    earliest = day - dt.timedelta(days=last) if last is not None else None
    latest = day - dt.timedelta(days=first) if first is not None else None
    return earliest, latest


def open_invoices() -> Select[Any]:
    """The open invoices insight counts (as `book.load` reads them), with their debtors."""
    return (
        select(Invoice)
        .options(selectinload(Invoice.debtor))
        .where(
            Invoice.kind == InvoiceKind.INVOICE.value,
            Invoice.status.in_((InvoiceStatus.OPEN.value, InvoiceStatus.HANDED_OVER.value)),
            Invoice.open_cents > 0,
            Invoice.currency == CURRENCY,
            ~Invoice.number.startswith(TEST_PREFIX, autoescape=True),
        )
    )


def in_group(stmt: Select[Any], group: str) -> Select[Any]:
    """Narrow a query of invoices to a group key."""
    kind, _sep, value = group.partition(":")
    if kind == "brand" and value.isdigit():
        return stmt.where(Invoice.brand_id == int(value))
    if kind == "segment" and value.isdigit():
        segment_id = int(value)
        members = select(Debtor.id).where(
            Debtor.segment_id == segment_id if segment_id else Debtor.segment_id.is_(None)
        )
        return stmt.where(Invoice.debtor_id.in_(members))
    if kind == "debtor" and value.isdigit():
        return stmt.where(Invoice.debtor_id == int(value))
    return stmt


def invoices(
    session: Session, day: dt.date, group: str, bucket: int | None, page: int = 1
) -> tuple[list[Invoice], bool]:
    """The open invoices behind an ageing figure as they are now, oldest due first; one
    page and whether there is a next."""
    stmt = in_group(open_invoices(), group)
    if bucket is not None:
        earliest, latest = due_range(bucket, day)
        if earliest is not None:
            stmt = stmt.where(Invoice.due_date >= earliest)
        if latest is not None:
            stmt = stmt.where(Invoice.due_date <= latest)
    stmt = stmt.order_by(Invoice.due_date, Invoice.id).limit(PAGE + 1).offset((page - 1) * PAGE)
    rows = list(session.scalars(stmt).unique())
    return rows[:PAGE], len(rows) > PAGE
