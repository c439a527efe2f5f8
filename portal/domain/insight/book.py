"""The receivables as insight reads them: one row per invoice, held in columns (plain
arrays of integers), ordered by debtor, so a million invoices fit in tens of megabytes and
every computation is a pass over them.

Which invoices count: kind `invoice` (not credit notes, costs or interest lines), in euros,
not cancelled, not a test record, and not settled on an unknown day (an invoice that
arrived already paid). Dates are held as ordinals (`date.toordinal()`).
"""

from __future__ import annotations

import datetime as dt
from array import array
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from portal.domain.api import TEST_PREFIX
from portal.models import (
    Debtor,
    DebtorEmail,
    DebtorRequest,
    Instalment,
    InstalmentPlan,
    Invoice,
    InvoiceKind,
    InvoiceSettlement,
    InvoiceStatus,
    PlanInvoice,
    PlanStatus,
    RequestKind,
)

CURRENCY = "EUR"
OPEN, PAID, HANDED_OVER = 0, 1, 2
PAID_BY_PAYMENT, PAID_BY_CREDIT = 1, 2
# flags of an open invoice
DISPUTED, IN_PLAN = 1, 2
_STATUS = {
    InvoiceStatus.OPEN.value: OPEN,
    InvoiceStatus.PAID.value: PAID,
    InvoiceStatus.HANDED_OVER.value: HANDED_OVER,
}
HISTORY_DAYS = 730  # promises, plans and disputes count for two years


@dataclass
class Book:
    """Invoices in columns. `paid` is the settlement day (0: not settled), `how` says
    whether money or a credit note settled it."""

    day: dt.date
    ids: array[int] = field(default_factory=lambda: array("q"))
    debtor: array[int] = field(default_factory=lambda: array("q"))
    brand: array[int] = field(default_factory=lambda: array("q"))
    segment: array[int] = field(default_factory=lambda: array("q"))  # 0: no segment
    invoiced: array[int] = field(default_factory=lambda: array("l"))
    due: array[int] = field(default_factory=lambda: array("l"))
    total: array[int] = field(default_factory=lambda: array("q"))
    open: array[int] = field(default_factory=lambda: array("q"))
    status: array[int] = field(default_factory=lambda: array("b"))
    paid: array[int] = field(default_factory=lambda: array("l"))
    how: array[int] = field(default_factory=lambda: array("b"))
    flags: array[int] = field(default_factory=lambda: array("b"))
    # open invoices promised by a day still to come: row -> ordinal of that day
    promised: dict[int, int] = field(default_factory=dict)
    # what a debtor's history says besides its invoices (for the rating)
    broken_promises: dict[int, int] = field(default_factory=dict)
    breached_plans: dict[int, int] = field(default_factory=dict)
    upheld_disputes: dict[int, int] = field(default_factory=dict)
    bouncing: set[int] = field(default_factory=set)
    # open instalments of running plans: (due ordinal, cents, debtor id)
    instalments: list[tuple[int, int, int]] = field(default_factory=list)
    left_out_currency: int = 0  # open invoices in other currencies, not in the figures
    left_out_unknown: int = 0  # invoices that arrived paid: no payment day known
    _debtors: list[tuple[int, range]] | None = field(default=None, repr=False)
    _debtors_for: int = field(default=-1, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def add(
        self,
        *,
        invoice_id: int,
        debtor_id: int,
        brand_id: int,
        segment_id: int | None,
        invoice_date: dt.date,
        due_date: dt.date,
        total_cents: int,
        open_cents: int,
        status: int = OPEN,
        paid_on: dt.date | None = None,
        how: int = PAID_BY_PAYMENT,
        flags: int = 0,
    ) -> int:
        """Append one invoice (rows must come ordered by debtor); returns its row."""
        self.ids.append(invoice_id)
        self.debtor.append(debtor_id)
        self.brand.append(brand_id)
        self.segment.append(segment_id or 0)
        self.invoiced.append(invoice_date.toordinal())
        self.due.append(due_date.toordinal())
        self.total.append(total_cents)
        self.open.append(open_cents)
        self.status.append(status)
        self.paid.append(paid_on.toordinal() if paid_on else 0)
        self.how.append(how if paid_on else 0)
        self.flags.append(flags)
        return len(self.ids) - 1

    def debtors(self) -> list[tuple[int, range]]:
        """(debtor id, its rows) for each debtor, in order (found once, then kept)."""
        if self._debtors is None or self._debtors_for != len(self.ids):
            found: list[tuple[int, range]] = []
            start, n = 0, len(self.ids)
            debtor = self.debtor
            while start < n:
                end = start + 1
                current = debtor[start]
                while end < n and debtor[end] == current:
                    end += 1
                found.append((current, range(start, end)))
                start = end
            self._debtors, self._debtors_for = found, n
        return self._debtors

    def is_open(self, row: int) -> bool:
        """Still owed today (open or handed over)."""
        return self.status[row] != PAID


def _counting() -> list[ColumnElement[bool]]:
    return [
        Invoice.kind == InvoiceKind.INVOICE.value,
        Invoice.status != InvoiceStatus.CANCELLED.value,
        ~Invoice.number.startswith(TEST_PREFIX, autoescape=True),
    ]


def load(session: Session, day: dt.date, *, chunk: int = 20_000) -> Book:
    """Read the receivables as they are on `day` (settlement days must be recorded first:
    `settle.record`).

    One streamed query; each chunk of rows is turned into columns at once (a million
    rows appended one value at a time cost seconds more)."""
    book = Book(day)
    in_plan = set(
        session.scalars(
            select(PlanInvoice.invoice_id)
            .join(InstalmentPlan, InstalmentPlan.id == PlanInvoice.plan_id)
            .where(InstalmentPlan.status == PlanStatus.ACTIVE.value)
        )
    )
    promises = dict(
        session.execute(
            select(DebtorRequest.invoice_id, DebtorRequest.promise_date)
            .where(
                DebtorRequest.kind == RequestKind.PROMISE.value,
                DebtorRequest.promise_date >= day,
                DebtorRequest.state.in_(("open", "answered")),
            )
            .order_by(DebtorRequest.id)
        ).all()
    )
    settled = Invoice.status == InvoiceStatus.PAID.value
    unknown = settled & (InvoiceSettlement.paid_on.is_(None) | (InvoiceSettlement.how == "unknown"))
    owed = Invoice.status.in_((InvoiceStatus.OPEN.value, InvoiceStatus.HANDED_OVER.value))
    book.left_out_currency = int(
        session.scalar(select(func.count()).where(*_counting(), owed, Invoice.currency != CURRENCY))
        or 0
    )
    book.left_out_unknown = int(
        session.scalar(
            select(func.count())
            .select_from(InvoiceSettlement)
            .join(Invoice, Invoice.id == InvoiceSettlement.invoice_id)
            .where(*_counting(), InvoiceSettlement.how == "unknown", Invoice.currency == CURRENCY)
        )
        or 0
    )
    stmt = (
        select(
            Invoice.id,
            Invoice.debtor_id,
            Invoice.brand_id,
            Debtor.segment_id,
            Invoice.invoice_date,
            Invoice.due_date,
            Invoice.total_cents,
            Invoice.open_cents,
            Invoice.status,
            InvoiceSettlement.paid_on,
            InvoiceSettlement.how,
            Invoice.hold_reason,
            Invoice.hold_until,
        )
        .join(Debtor, Debtor.id == Invoice.debtor_id)
        .outerjoin(InvoiceSettlement, InvoiceSettlement.invoice_id == Invoice.id)
        .where(*_counting(), Invoice.currency == CURRENCY, ~unknown)
        .order_by(Invoice.debtor_id, Invoice.id)
    )
    # Core rows streamed from a server-side cursor: no ORM objects for a million invoices
    if session.get_bind().dialect.name == "postgresql":
        # a cursor is planned for its first rows by default (index walks); all are wanted,
        # and the sort by debtor fits in memory
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
        session.execute(text("SET LOCAL work_mem = '128MB'"))
    # (options on the statement: set on the connection they would outlive this query)
    stmt = stmt.execution_options(stream_results=True, yield_per=chunk)
    connection = session.connection()
    paid_value, credit = InvoiceStatus.PAID.value, PAID_BY_CREDIT
    for rows in connection.execute(stmt).partitions(chunk):
        first = len(book.ids)
        (ids, debtors, brands, segments, invoiced, due, total, opens, status, paid, how) = zip(
            *(row[:11] for row in rows), strict=True
        )
        done = [s == paid_value for s in status]
        book.ids.extend(ids)
        book.debtor.extend(debtors)
        book.brand.extend(brands)
        book.segment.extend(s or 0 for s in segments)
        book.invoiced.extend(d.toordinal() for d in invoiced)
        book.due.extend(d.toordinal() for d in due)
        book.total.extend(total)
        book.open.extend(0 if d else c for d, c in zip(done, opens, strict=True))
        book.status.extend(_STATUS[s] for s in status)
        book.paid.extend(p.toordinal() if d else 0 for d, p in zip(done, paid, strict=True))
        book.how.extend(
            (credit if h == "credit" else PAID_BY_PAYMENT) if d else 0
            for d, h in zip(done, how, strict=True)
        )
        flags = array("b", bytes(len(rows)))
        for n, row in enumerate(rows):
            if done[n]:
                continue
            invoice_id, hold_reason, hold_until = row[0], row[11], row[12]
            held = hold_until >= day if hold_until is not None else bool(hold_reason)
            if hold_reason == "dispute" and held:
                flags[n] |= DISPUTED
            if invoice_id in in_plan:
                flags[n] |= IN_PLAN
            promised = promises.get(invoice_id)
            if promised is not None:
                book.promised[first + n] = promised.toordinal()
        book.flags.extend(flags)
    _load_history(session, book)
    return book


def _load_history(session: Session, book: Book) -> None:
    """Promises, plans, disputes and bouncing addresses, counted per debtor."""
    day = book.day
    since = day - dt.timedelta(days=HISTORY_DAYS)
    # a promise is broken when its day passed and the invoice was not paid by then
    broken = session.execute(
        select(DebtorRequest.debtor_id, func.count())
        .join(Invoice, Invoice.id == DebtorRequest.invoice_id)
        .outerjoin(InvoiceSettlement, InvoiceSettlement.invoice_id == Invoice.id)
        .where(
            DebtorRequest.kind == RequestKind.PROMISE.value,
            DebtorRequest.outcome != "replaced",
            DebtorRequest.promise_date < day,
            DebtorRequest.promise_date >= since,
            Invoice.status != InvoiceStatus.CANCELLED.value,
            or_(
                Invoice.status != InvoiceStatus.PAID.value,
                InvoiceSettlement.paid_on > DebtorRequest.promise_date,
            ),
        )
        .group_by(DebtorRequest.debtor_id)
    )
    book.broken_promises = {int(d): int(n) for d, n in broken}
    since_moment = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    breached = session.execute(
        select(InstalmentPlan.debtor_id, func.count())
        .where(
            InstalmentPlan.status == PlanStatus.BREACHED.value,
            InstalmentPlan.ended_at >= since_moment,
        )
        .group_by(InstalmentPlan.debtor_id)
    )
    book.breached_plans = {int(d): int(n) for d, n in breached}
    upheld = session.execute(
        select(DebtorRequest.debtor_id, func.count())
        .where(
            DebtorRequest.kind == RequestKind.DISPUTE.value,
            DebtorRequest.outcome == "uphold",
            DebtorRequest.created_at >= since_moment,
        )
        .group_by(DebtorRequest.debtor_id)
    )
    book.upheld_disputes = {int(d): int(n) for d, n in upheld}
    book.bouncing = set(
        session.scalars(
            select(DebtorEmail.debtor_id).where(DebtorEmail.bouncing_since.is_not(None))
        )
    )
    instalments = session.execute(
        select(
            Instalment.due_date,
            Instalment.cents - Instalment.paid_cents,
            InstalmentPlan.debtor_id,
        )
        .join(InstalmentPlan, InstalmentPlan.id == Instalment.plan_id)
        .where(
            InstalmentPlan.status == PlanStatus.ACTIVE.value,
            InstalmentPlan.currency == CURRENCY,
            Instalment.cents > Instalment.paid_cents,
        )
    )
    book.instalments = [(due.toordinal(), int(cents), int(d)) for due, cents, d in instalments]
