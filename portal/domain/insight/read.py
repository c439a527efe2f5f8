"""What the insight pages read: the figures the worker prepared, and the invoices and
debtors behind them (a page never recomputes a figure)."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.domain.api import TEST_PREFIX
from portal.domain.insight import ageing
from portal.domain.insight.ageing import in_group, open_invoices
from portal.domain.insight.book import CURRENCY
from portal.domain.params import whole
from portal.models import (
    GRADES,
    Brand,
    Debtor,
    DebtorAgeing,
    DebtorRating,
    InsightFigures,
    Invoice,
    InvoiceKind,
    InvoicePrediction,
    InvoiceSettlement,
    InvoiceStatus,
    Segment,
)

PAGE = 25
DEBTOR_PAGE = 50


def figures(session: Session) -> tuple[dict[str, dict[str, Any]], dt.datetime | None]:
    """Every prepared document by key, and when they were computed (None: never yet)."""
    rows = list(session.scalars(select(InsightFigures)))
    when = max((r.computed_at for r in rows), default=None)
    return {r.key: r.data for r in rows}, when


def group_names(session: Session) -> dict[str, str]:
    """Names of the groups figures are kept for: brand:<id> and segment:<id>."""
    names = {f"brand:{i}": n for i, n in session.execute(select(Brand.id, Brand.name))}
    names.update({f"segment:{i}": n for i, n in session.execute(select(Segment.id, Segment.name))})
    return names


def valid_group(value: str) -> str:
    """A group key as typed into a URL: all, brand:<id>, segment:<id>, debtor:<id>."""
    kind, _sep, number = value.partition(":")
    if kind in ("brand", "segment", "debtor") and whole(number, low=0) is not None:
        return f"{kind}:{int(number)}"
    return "all"


@dataclass(frozen=True)
class Drill:
    """What a drill-down shows: the open invoices of a group in an age bucket, the
    invoices owed at the end of a day (a month end), or those predicted to be paid in the
    week from a Monday."""

    group: str = "all"
    bucket: int | None = None
    month: dt.date | None = None
    week: dt.date | None = None
    page: int = 1

    @classmethod
    def parse(cls, args: dict[str, str]) -> Drill:
        """From query-string values a person may have edited by hand."""
        bucket = whole(args.get("bucket", ""), low=0, high=len(ageing.BUCKETS) - 1)
        return cls(
            group=valid_group(args.get("group", "all")),
            bucket=bucket,
            month=_day(args.get("month", "")),
            week=_day(args.get("week", "")),
            page=whole(args.get("page", ""), low=1, high=100_000) or 1,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The drill as URL arguments (for links), with some values changed."""
        drill = replace(self, **changes)
        out: dict[str, Any] = {"group": drill.group}
        if drill.bucket is not None:
            out["bucket"] = drill.bucket
        if drill.month is not None:
            out["month"] = drill.month.isoformat()
        if drill.week is not None:
            out["week"] = drill.week.isoformat()
        if drill.page > 1:
            out["page"] = drill.page
        return out


def _day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


@dataclass
class DrillRow:
    """An invoice behind a figure, with its prediction (None: not predicted)."""

    invoice: Invoice
    prediction: InvoicePrediction | None
    paid_on: dt.date | None = None


def drill(session: Session, day: dt.date, what: Drill) -> tuple[list[DrillRow], bool]:
    """The invoices behind a figure, one page, and whether there is a next."""
    offset = (what.page - 1) * PAGE
    if what.month is not None:
        invoices = _owed_at(session, what.month, what.group, offset + PAGE + 1)[offset:]
        return _rows(session, invoices)
    if what.week is not None:
        stmt = (
            open_invoices()
            .join(InvoicePrediction, InvoicePrediction.invoice_id == Invoice.id)
            .where(
                InvoicePrediction.predicted_on >= what.week,
                InvoicePrediction.predicted_on <= what.week + dt.timedelta(days=6),
            )
        )
    else:
        stmt = open_invoices()
        if what.bucket is not None:
            earliest, latest = ageing.due_range(what.bucket, day)
            if earliest is not None:
                stmt = stmt.where(Invoice.due_date >= earliest)
            if latest is not None:
                stmt = stmt.where(Invoice.due_date <= latest)
    stmt = in_group(stmt, what.group).order_by(Invoice.due_date, Invoice.id)
    return _rows(session, list(session.scalars(stmt.limit(PAGE + 1).offset(offset)).unique()))


def _rows(session: Session, invoices: list[Invoice]) -> tuple[list[DrillRow], bool]:
    """A page of invoices (one more than a page tells there is a next) with their
    predictions and settlement days."""
    ids = [i.id for i in invoices[:PAGE]]
    predictions = {
        p.invoice_id: p
        for p in session.scalars(
            select(InvoicePrediction).where(InvoicePrediction.invoice_id.in_(ids))
        )
    }
    paid = dict(
        session.execute(
            select(InvoiceSettlement.invoice_id, InvoiceSettlement.paid_on).where(
                InvoiceSettlement.invoice_id.in_(ids)
            )
        ).all()
    )
    rows = [DrillRow(i, predictions.get(i.id), paid.get(i.id)) for i in invoices[:PAGE]]
    return rows, len(invoices) > PAGE


def _owed_at(session: Session, day: dt.date, group: str, limit: int) -> list[Invoice]:
    """The first `limit` invoices owed at the end of `day` as DSO counts them (see dso.py),
    by due date: those still owed now and those paid after that day, read apart (each an
    indexed walk) and merged."""
    counted = (
        Invoice.kind == InvoiceKind.INVOICE.value,
        Invoice.currency == CURRENCY,
        ~Invoice.number.startswith(TEST_PREFIX, autoescape=True),
        Invoice.invoice_date <= day,
    )
    owed = select(Invoice).where(
        *counted,
        Invoice.status.in_((InvoiceStatus.OPEN.value, InvoiceStatus.HANDED_OVER.value)),
    )
    paid_later = (
        select(Invoice)
        .join(InvoiceSettlement, InvoiceSettlement.invoice_id == Invoice.id)
        .where(*counted, InvoiceSettlement.paid_on > day, InvoiceSettlement.how != "unknown")
    )
    statements = [owed, paid_later]
    found = []
    for stmt in statements:
        stmt = in_group(stmt, group).options(selectinload(Invoice.debtor))
        found.append(
            session.scalars(stmt.order_by(Invoice.due_date, Invoice.id).limit(limit)).all()
        )
    merged = heapq.merge(*found, key=lambda i: (i.due_date, i.id))
    return list(itertools.islice(merged, limit))


@dataclass
class DebtorRow:
    """A debtor with what it owes by age and its rating."""

    debtor: Debtor
    age: DebtorAgeing | None
    rating: DebtorRating | None


def debtors(
    session: Session, group: str, grade: str, page: int = 1, limit: int = DEBTOR_PAGE
) -> tuple[list[DebtorRow], bool]:
    """Debtors who owe something, the most overdue first, in a group and of a grade."""
    stmt = (
        select(Debtor, DebtorAgeing, DebtorRating)
        .join(DebtorAgeing, DebtorAgeing.debtor_id == Debtor.id)
        .outerjoin(DebtorRating, DebtorRating.debtor_id == Debtor.id)
        .order_by(DebtorAgeing.overdue_cents.desc(), DebtorAgeing.debtor_id.desc())
    )
    kind, _sep, number = group.partition(":")
    if kind == "brand":
        stmt = stmt.where(DebtorAgeing.brand_id == int(number))
    elif kind == "segment":
        stmt = stmt.where(
            DebtorAgeing.segment_id == int(number)
            if int(number)
            else DebtorAgeing.segment_id.is_(None)
        )
    if grade in GRADES:
        stmt = stmt.where(DebtorRating.grade == grade)
    found = session.execute(stmt.limit(limit + 1).offset((page - 1) * limit)).all()
    rows = [DebtorRow(d, a, r) for d, a, r in found]
    return rows[:limit], len(rows) > limit


@dataclass
class Quarter:
    """How a debtor paid the invoices due in a quarter."""

    first: dt.date
    invoices: int = 0
    cents: int = 0
    weighted_days: float = 0.0
    still_open: int = 0

    @property
    def days_late(self) -> float | None:
        """Days after the due date, on average weighted by amount (early counts as 0)."""
        return self.weighted_days / self.cents if self.cents else None


@dataclass
class DebtorInsight:
    """The debtor page's part: rating, behaviour per quarter, and open predictions."""

    rating: DebtorRating | None
    quarters: list[Quarter] = field(default_factory=list)
    predictions: dict[int, InvoicePrediction] = field(default_factory=dict)


def debtor_insight(
    session: Session, debtor_id: int, day: dt.date, quarters: int = 8
) -> DebtorInsight:
    """A debtor's rating, its payment behaviour over the last quarters, its predictions."""
    rating = session.get(DebtorRating, debtor_id)
    first = _quarter_start(day)
    starts = []
    for _ in range(quarters):
        starts.append(first)
        first = _quarter_start(first - dt.timedelta(days=1))
    starts.reverse()
    by_start = {s: Quarter(s) for s in starts}
    rows = session.execute(
        select(
            Invoice.id,
            Invoice.due_date,
            Invoice.total_cents,
            Invoice.status,
            InvoiceSettlement.paid_on,
            InvoiceSettlement.how,
            InvoicePrediction,
        )
        .outerjoin(InvoiceSettlement, InvoiceSettlement.invoice_id == Invoice.id)
        .outerjoin(InvoicePrediction, InvoicePrediction.invoice_id == Invoice.id)
        .where(
            Invoice.debtor_id == debtor_id,
            Invoice.kind == InvoiceKind.INVOICE.value,
            Invoice.status != InvoiceStatus.CANCELLED.value,
        )
    ).all()
    result = DebtorInsight(rating, list(by_start.values()))
    for _id, due, total, status, paid_on, how, prediction in rows:
        if prediction is not None:
            result.predictions[prediction.invoice_id] = prediction
        quarter = by_start.get(_quarter_start(due))
        if quarter is None or due >= day:
            continue
        if status == InvoiceStatus.PAID.value:
            if how != "paid" or paid_on is None:
                continue
            late = (paid_on - due).days
        else:
            late = (day - due).days
            quarter.still_open += 1
        quarter.invoices += 1
        quarter.cents += total
        quarter.weighted_days += total * max(late, 0)
    return result


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
