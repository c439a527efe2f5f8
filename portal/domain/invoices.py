"""What a debtor sees of their invoices: lists, totals, status words, timeline."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session, joinedload

from portal.domain.params import clamped, page_number, whole
from portal.models import PAYABLE_KINDS, AuditEvent, Debtor, Invoice, InvoiceStatus

PAGE_SIZE = 25
STATUS_FILTERS = ("open", "paid", "all")
SORTS = ("due", "amount", "open", "number")


@dataclass(frozen=True)
class InvoiceFilter:
    """Validated list options; unknown values fall back to the defaults."""

    status: str = "open"
    q: str = ""
    sort: str = "due"
    desc: bool = False
    page: int = 1

    @classmethod
    def parse(cls, args: dict[str, str]) -> InvoiceFilter:
        """Build from query-string values a person may have edited by hand."""
        status = args.get("status", "open")
        sort = args.get("sort", "due")
        return cls(
            status=status if status in STATUS_FILTERS else "open",
            q=args.get("q", "").strip()[:40],
            sort=sort if sort in SORTS else "due",
            desc=args.get("dir") == "desc",
            page=page_number(args.get("page", "1")),
        )

    def query_args(self, **changes: object) -> dict[str, object]:
        """The filter as URL arguments, with some values changed (for links)."""
        args: dict[str, object] = {
            "status": self.status,
            "q": self.q,
            "sort": self.sort,
            "dir": "desc" if self.desc else "asc",
            "page": self.page,
        }
        args.update(changes)
        return {k: v for k, v in args.items() if v not in ("", None)}


@dataclass
class Page:
    items: Sequence[Invoice]
    total: int
    page: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


def _matching(debtor_id: int, flt: InvoiceFilter) -> list[Any]:
    """The filter's conditions: status, and the search in number, reference, description."""
    where = [Invoice.debtor_id == debtor_id]
    if flt.status == "open":  # a claim an agency handles now is still owed
        where.append(Invoice.status.in_((InvoiceStatus.OPEN, InvoiceStatus.HANDED_OVER)))
    elif flt.status == "paid":
        where.append(Invoice.status == InvoiceStatus.PAID)
    if flt.q:
        escaped = flt.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        where.append(
            or_(
                Invoice.number.ilike(pattern, escape="\\"),
                Invoice.reference.ilike(pattern, escape="\\"),
                Invoice.description.ilike(pattern, escape="\\"),
            )
        )
    return where


def payable_ids(session: Session, debtor_id: int, flt: InvoiceFilter) -> list[int]:
    """Ids of the invoices matching the filter (on every page) that can be paid now, at
    most 200 (what one payment takes), oldest due date first: "select all"."""
    stmt = (
        select(Invoice.id)
        .where(
            *_matching(debtor_id, flt),
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.kind.in_(PAYABLE_KINDS),
            Invoice.open_cents > 0,
        )
        .order_by(Invoice.due_date, Invoice.id)
        .limit(200)
    )
    return list(session.scalars(stmt))


def list_invoices(session: Session, debtor_id: int, flt: InvoiceFilter) -> Page:
    """One page of a debtor's invoices with the total count (one query when in range)."""
    where = _matching(debtor_id, flt)
    column = {
        "due": Invoice.due_date,
        "amount": Invoice.total_cents,
        "open": Invoice.open_cents,
        "number": Invoice.number,
    }[flt.sort]
    order = column.desc() if flt.desc else column.asc()

    def fetch(page: int) -> list[Any]:
        # the total rides along as a window count: one round trip for page and count
        stmt = (
            select(Invoice, func.count().over().label("total"))
            .where(*where)
            .order_by(order, Invoice.id)
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
        return list(session.execute(stmt))

    rows = fetch(flt.page)
    if rows:
        return Page(items=[r[0] for r in rows], total=int(rows[0].total), page=flt.page)
    # past the last page (or nothing at all): count, then show the last page
    total = session.scalar(select(func.count()).select_from(Invoice).where(*where)) or 0
    last = max(1, math.ceil(total / PAGE_SIZE))
    rows = fetch(last) if total else []
    return Page(items=[r[0] for r in rows], total=total, page=last)


@dataclass
class CurrencyTotals:
    """A debtor's open money in one currency, split by what is happening to it."""

    currency: str
    open_cents: int = 0
    overdue_cents: int = 0  # past due and nothing agreed: reminders run
    open_count: int = 0
    overdue_count: int = 0
    plan_cents: int = 0  # in a running payment plan
    plan_count: int = 0
    disputed_cents: int = 0  # waiting for our answer
    disputed_count: int = 0
    promised_cents: int = 0  # the debtor promised a date
    promised_count: int = 0
    promised_until: dt.date | None = None  # the latest promised date


@dataclass
class Overview:
    totals: list[CurrencyTotals] = field(default_factory=list)
    next_due: dt.date | None = None
    paid_count: int = 0

    @property
    def has_open(self) -> bool:
        return any(t.open_count for t in self.totals)


def overview(session: Session, debtor_id: int, today: dt.date) -> Overview:
    """Open totals per currency, split into overdue, in a plan, disputed and promised, and
    the next due date, in one query. "Overdue" counts only what nothing is agreed on."""
    is_open = Invoice.status == InvoiceStatus.OPEN
    in_plan = is_open & (Invoice.hold_reason == "plan") & Invoice.held_on(today)
    disputed = is_open & (Invoice.hold_reason == "dispute")
    promised = is_open & (Invoice.hold_reason == "promise") & Invoice.held_on(today)
    overdue = is_open & (Invoice.due_date < today) & ~in_plan & ~disputed & ~promised

    def total(condition: Any) -> Any:
        return func.sum(case((condition, Invoice.open_cents), else_=0))

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    stmt = (
        select(
            Invoice.currency,
            total(is_open),
            total(overdue),
            count(is_open),
            count(overdue),
            total(in_plan),
            count(in_plan),
            total(disputed),
            count(disputed),
            total(promised),
            count(promised),
            func.max(case((promised, Invoice.hold_until))),
            func.min(case((is_open & (Invoice.due_date >= today), Invoice.due_date))),
            func.sum(case((Invoice.status == InvoiceStatus.PAID, 1), else_=0)),
        )
        .where(Invoice.debtor_id == debtor_id)
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    result = Overview()
    for row in session.execute(stmt):
        currency, *figures, promised_until, next_due, paid_n = row
        result.paid_count += int(paid_n or 0)
        numbers = [int(f or 0) for f in figures]
        if numbers[2]:  # open invoices in this currency
            o_c, d_c, o_n, d_n, p_c, p_n, x_c, x_n, pr_c, pr_n = numbers
            result.totals.append(
                CurrencyTotals(
                    currency, o_c, d_c, o_n, d_n, p_c, p_n, x_c, x_n, pr_c, pr_n, promised_until
                )
            )
        if next_due is not None and (result.next_due is None or next_due < result.next_due):
            result.next_due = next_due
    return result


def get_for_debtor(session: Session, debtor_id: int, invoice_id: int) -> Invoice | None:
    """The invoice only when it belongs to this debtor; otherwise None (a 404)."""
    return session.scalars(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.debtor_id == debtor_id)
    ).first()


def open_invoices(session: Session, debtor_id: int) -> list[Invoice]:
    """All open invoices of a debtor, oldest due date first (for statements)."""
    stmt = (
        select(Invoice)
        .where(Invoice.debtor_id == debtor_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.id)
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class StatusView:
    """How an invoice's state is shown: a key for styling plus days overdue."""

    key: str  # open, overdue, paid, partly_paid, cancelled, handed_over, credit, disputed
    days_overdue: int = 0


def status_view(invoice: Invoice, today: dt.date) -> StatusView:
    """Words-and-colour status of an invoice on a given day."""
    if invoice.kind == "credit_note":
        return StatusView("credit")
    if invoice.status != InvoiceStatus.OPEN:
        return StatusView(invoice.status)
    if invoice.hold_reason == "dispute":
        return StatusView("disputed")
    if invoice.hold_reason == "plan" and invoice.held_on(today):
        return StatusView("in_plan")
    if invoice.due_date < today:
        return StatusView("overdue", (today - invoice.due_date).days)
    if invoice.open_cents < invoice.total_cents:
        return StatusView("partly_paid")
    return StatusView("open")


def timeline(session: Session, invoice_id: int) -> list[AuditEvent]:
    """What happened to an invoice, newest first."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.invoice_id == invoice_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    return list(session.scalars(stmt))


ADMIN_PAGE = 50
MAX_DAYS_OVERDUE = 36_500  # "overdue more than a century" is as far as the filter goes


@dataclass(frozen=True)
class AdminFilter:
    """Admin invoice list filters; unknown values are ignored."""

    brand_id: int | None = None
    segment_id: int | None = None
    status: str = "open"  # open, overdue, paid, all
    min_days_overdue: int = 0
    q: str = ""
    page: int = 1

    @classmethod
    def parse(cls, args: dict[str, str]) -> AdminFilter:
        def number(key: str) -> int | None:
            value = args.get(key, "")
            return whole(value, low=0)

        status = args.get("status", "open")
        return cls(
            brand_id=number("brand"),
            segment_id=number("segment"),
            status=status if status in ("open", "overdue", "paid", "all") else "open",
            min_days_overdue=clamped(args.get("days", ""), 0, MAX_DAYS_OVERDUE, 0),
            q=args.get("q", "").strip()[:40],
            page=page_number(args.get("page", "1")),
        )


def admin_list(session: Session, flt: AdminFilter, today: dt.date) -> tuple[list[Invoice], bool]:
    """Invoices across debtors for the admin, with their debtors loaded (no N+1)."""
    stmt = admin_matching(flt, today).options(joinedload(Invoice.debtor))
    stmt = stmt.order_by(Invoice.due_date, Invoice.id).limit(ADMIN_PAGE + 1)
    rows = list(session.scalars(stmt.offset((flt.page - 1) * ADMIN_PAGE)).unique())
    return rows[:ADMIN_PAGE], len(rows) > ADMIN_PAGE


def admin_matching(flt: AdminFilter, today: dt.date) -> Select[Invoice]:
    """Every invoice the admin filter matches (all pages; the list and bulk work share it)."""
    stmt = select(Invoice).join(Debtor, Debtor.id == Invoice.debtor_id)
    if flt.brand_id:
        stmt = stmt.where(Invoice.brand_id == flt.brand_id)
    if flt.segment_id:
        stmt = stmt.where(Debtor.segment_id == flt.segment_id)
    if flt.status in ("open", "overdue"):
        stmt = stmt.where(Invoice.status == InvoiceStatus.OPEN)
    elif flt.status == "paid":
        stmt = stmt.where(Invoice.status == InvoiceStatus.PAID)
    if flt.status == "overdue" or flt.min_days_overdue:
        stmt = stmt.where(
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.due_date < today - dt.timedelta(days=flt.min_days_overdue),
        )
    if flt.q:
        escaped = flt.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Invoice.number.ilike(f"%{escaped}%", escape="\\"))
    return stmt
