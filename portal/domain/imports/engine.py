"""Preview and commit of an invoice batch.

Validation runs outside any write transaction and builds a Preview: what would change and
every row problem. Commit applies a preview without errors in bulk statements and one
commit: all rows or none. Matching follows DESIGN.md section 9: invoices by (brand, number),
debtors by (brand, debtor number), email only when the file has no debtor-number column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from portal.domain import ledger
from portal.domain.bulk import insert_rows
from portal.domain.imports.columns import _HEADER_SCAN as HEADER_SCAN
from portal.domain.imports.columns import (
    LABELS,
    REQUIRED,
    Header,
    apply_overrides,
    customer_kind,
    find_header,
    last_step,
)
from portal.domain.imports.readers import ReadError, open_sheet
from portal.domain.imports.values import ValueProblem, parse_currency, parse_date, text
from portal.domain.money import AmountError, parse_amount
from portal.domain.payments import references
from portal.domain.phones import PhoneError, normalise, region_for
from portal.domain.problems import N_, Problem, render
from portal.models import (
    CHARGE_KINDS,
    Allocation,
    AuditEvent,
    Brand,
    Debtor,
    DebtorEmail,
    ImportBatch,
    Invoice,
    InvoiceReminder,
    InvoiceStatus,
    Payment,
    ReminderSchedule,
    Segment,
    utcnow,
)

DEFAULT_TZ = "Europe/Amsterdam"

NOT_AN_AMOUNT = N_("not an amount; write it as 1.234,56 or 1234.56")
LINES_REPEATED = N_(
    "rows %(first)d to %(last)d are lines of one invoice; "
    "its amount repeats on each line and was taken once"
)
LINES_ADDED = N_("rows %(first)d to %(last)d are lines of one invoice; their amounts were added up")
RECENTLY_PAID = N_(
    "paid in the portal recently and perhaps not booked yet: "
    "the open amount stays at the lower portal figure"
)
PHONE_LEFT_EMPTY = {  # PhoneError.reason -> the row's warning
    "not_a_number": N_("not a phone number; the debtor is imported without one"),
    "too_short": N_(
        "too short for a phone number in %(country)s; the debtor is imported without one"
    ),
    "too_long": N_(
        "too long for a phone number in %(country)s; the debtor is imported without one"
    ),
    "invalid": N_("not a valid phone number in %(country)s; the debtor is imported without one"),
}
Progress = Callable[[str, int, int], None]  # (phase, rows done, rows in all)
PROGRESS_EVERY = 5000


def _silent(phase: str, done: int, total: int) -> None:
    """The progress report of an import nobody watches."""


TOTAL_WORDS = ("totaal", "total", "subtotaal", "subtotal", "som", "sum")
COMPARED = (
    "invoice_date",
    "due_date",
    "currency",
    "total_cents",
    "open_cents",
    "description",
    "reference",
    "kind",
    "status",
)


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in one cell, as a person sees it in the spreadsheet.

    `message` is the English text; `msgid` and `params` let a page translate it.
    """

    line: int  # 1-based row number in the sheet
    column: str
    value: str
    message: str
    severity: str = "error"  # or "warning"
    msgid: str = ""
    params: tuple[tuple[str, Any], ...] = ()

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The message through `gettext` (falls back to English where untranslated)."""
        return render(self.msgid or self.message, dict(self.params), gettext)


def issue(
    line: int, column: str, value: str, msgid: str, severity: str = "error", **params: Any
) -> Issue:
    """An Issue from a message template (marked with N_) and its values."""
    return Issue(line, column, value, render(msgid, params), severity, msgid, tuple(params.items()))


def from_problem(line: int, column: str, value: str, problem: Problem) -> Issue:
    """An Issue carrying a ReadError's or ValueProblem's message."""
    return issue(line, column, value, problem.msgid, **problem.params)


@dataclass(slots=True)
class Row:
    line: int
    invoice_number: str
    debtor_number: str
    name: str
    email: str
    phone: str
    invoice_date: dt.date
    due_date: dt.date | None
    total_cents: int
    open_cents: int
    currency: str
    description: str
    reference: str
    address: str
    postcode: str
    city: str
    country: str
    language: str
    kind: str  # invoice | credit_note
    customer_kind: str = ""  # b2b | b2c | "" (the file does not say: the brand's default)
    last_step: str = ""  # "kind:n" | "level:n" | "" (columns.last_step)
    payment_reference: str = ""


@dataclass
class Preview:
    brand_id: int
    mode: str
    file_hash: str
    filename: str
    header: Header | None
    rows: list[Row] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    new_debtors: int = 0
    new_invoices: int = 0
    updated_invoices: int = 0
    unchanged: int = 0
    paid_elsewhere: int = 0
    new_businesses: int = 0  # of new_debtors: by a customer-type, KvK/KBO or VAT column
    new_consumers: int = 0
    placed: int = 0  # new invoices that enter their schedule after the step the file names
    by_reference: int = 0  # invoices paid elsewhere whose transfer named our reference
    already_imported: bool = False
    booking_lag_days: int = 14  # IMPORT_BOOKING_LAG_DAYS: see _recently_paid_here

    @property
    def credit_notes(self) -> int:
        """Rows that are credit notes (a negative amount)."""
        return sum(1 for row in self.rows if row.kind == "credit_note")

    def sample(self, size: int = 10) -> list[Row]:
        """The first rows as they were read, for the admin to check the columns."""
        return self.rows[:size]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def can_commit(self) -> bool:
        return bool(self.rows) and not self.errors and not self.already_imported


@dataclass
class CommitResult:
    batch_id: int
    new_debtors: int
    new_invoices: int
    updated_invoices: int
    paid_elsewhere: int
    # "new invoices" event: per debtor the invoices this batch created (for notification mails)
    new_invoices_by_debtor: dict[int, list[int]] = field(default_factory=dict)


class ImportRefused(ValueError):
    """The batch cannot be committed; the preview says why."""


def preview(
    session: Session,
    data: bytes,
    *,
    brand: Brand,
    filename: str = "",
    mode: str = "full",
    mapping: Mapping[str, Any] | None = None,
    force: bool = False,
    progress: Progress | None = None,
    booking_lag_days: int = 14,
) -> Preview:
    """Read, map and validate a file against the database, changing nothing.

    `progress(phase, done, total)` is told how far it got (for the background job page).
    """
    report = progress or _silent
    if mode not in ("full", "open_items"):
        raise ValueError("mode must be full or open_items")
    digest = hashlib.sha256(data).hexdigest()
    result = Preview(brand.id, mode, digest, filename, None, booking_lag_days=booking_lag_days)
    report("reading", 0, 0)
    try:
        sheet = open_sheet(data)
        # rows are read one at a time: only the top of the sheet (where the header is) is kept
        rows = list(itertools.islice(sheet.rows, HEADER_SCAN))
    except ReadError as exc:
        result.issues.append(from_problem(0, "", filename, exc))
        return result
    header = find_header(rows)
    if header is None and mapping and rows:
        # nothing recognised: the admin's mapping names columns of the first row
        header = Header(0, {}, [str(c or "") for c in rows[0]])
    if header is not None and mapping:
        try:
            header = apply_overrides(header, mapping)
        except ValueError as exc:
            result.issues.append(
                issue(
                    0,
                    "",
                    "",
                    N_("The column mapping does not fit this file: %(error)s"),
                    error=str(exc),
                )
            )
            return result
    missing = [LABELS[f] for f in REQUIRED if header is None or f not in header.columns]
    if header is None or missing:
        # keep the first row's names so the admin can choose the columns by hand
        first = next((r for r in rows if any(c not in (None, "") for c in r)), [])
        result.header = header or Header(
            rows.index(first) if first else 0, {}, [str(c or "") for c in first]
        )
        result.issues.append(
            issue(
                0,
                "",
                "",
                N_(
                    "No header row with the columns %(columns)s was found; "
                    "choose the columns by hand."
                ),
                columns=", ".join(missing or [LABELS[f] for f in REQUIRED]),
            )
        )
        return result
    result.header = header
    if not force and session.scalar(
        select(ImportBatch.id).where(
            ImportBatch.brand_id == brand.id, ImportBatch.file_hash == digest
        )
    ):
        result.already_imported = True
        result.issues.append(
            issue(
                0,
                "",
                filename,
                N_(
                    "This exact file was imported before; "
                    "nothing would change. Import it again only on purpose."
                ),
                "warning",
            )
        )
    try:
        _parse_rows(
            itertools.chain(rows, sheet.rows),
            header,
            result,
            _term_days(session, brand),
            report,
            brand.country,
            sheet_rows=sheet.count,
        )
    except ReadError as exc:  # a row further down the file cannot be read at all
        result.rows.clear()
        result.issues = [from_problem(0, "", filename, exc)]
        return result
    result.placed = sum(1 for r in result.rows if r.last_step)
    del rows, sheet  # the raw cells are no longer needed; large files keep only the parsed rows
    report("comparing", len(result.rows), len(result.rows))
    plan = _plan(session, brand, result)
    result.issues.extend(plan.issues)
    result.issues.extend(plan.warnings)
    result.issues.sort(key=lambda issue: issue.line)
    result.unchanged = plan.unchanged
    result.new_debtors = len(plan.new_debtors)
    result.new_invoices = len(plan.inserts)
    result.updated_invoices = len(plan.updates)
    result.paid_elsewhere = len(plan.paid_elsewhere)
    kinds = [r.customer_kind or brand.default_debtor_kind for r in plan.new_debtors.values()]
    result.new_businesses = kinds.count("b2b")
    result.new_consumers = len(kinds) - result.new_businesses
    result.placed = sum(1 for r in plan.inserts if r.last_step)
    result.by_reference = len(plan.by_reference)
    return result


def _term_days(session: Session, brand: Brand) -> int:
    # the shortest segment term is the safe default for invoices without a due date
    term = session.scalar(select(Segment.payment_term_days).order_by(Segment.payment_term_days))
    return int(term) if term is not None else 14


def _parse_rows(
    rows: Iterable[Sequence[Any]],
    header: Header,
    result: Preview,
    term: int,
    report: Progress,
    brand_country: str = "NL",
    *,
    sheet_rows: int,
) -> None:
    """Parse the rows under the header into `result` (`rows` is every row of the sheet,
    read once; `sheet_rows` how many there are, for the progress report)."""
    cols = header.columns
    row_count = max(sheet_rows - header.row_index - 1, 0)
    seen: dict[str, int] = {}
    shared: dict[Any, Any] = {}
    lines = _LineGroup()
    previous = ""  # the invoice number of the data row above, whether it was good or bad

    def cell(cells: Sequence[Any], name: str) -> Any:
        index = cols.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    for offset, cells in enumerate(itertools.islice(rows, header.row_index + 1, None)):
        if offset % PROGRESS_EVERY == 0:
            report("checking", offset, row_count)
        line = header.row_index + 2 + offset
        if not any(str(c).strip() for c in cells if c is not None):
            continue
        number = text(cell(cells, "invoice_number"), 40)
        if not number:
            first = " ".join(text(c, 40).lower() for c in cells[:3])
            if any(word in first for word in TOTAL_WORDS) or cell(cells, "total") not in (None, ""):
                continue  # a totals row under the data
            result.issues.append(
                issue(line, LABELS["invoice_number"], "", N_("the invoice number is missing"))
            )
            continue
        issues_before = len(result.issues)
        first_line = seen.setdefault(number, line)
        last = result.rows[-1] if result.rows else None
        # a line of the invoice above only when the row right above is that invoice: a
        # repeat further down is an error, even with bad rows (left out) in between
        line_of_last = previous == number and last is not None and last.invoice_number == number
        previous = number
        if first_line != line and not line_of_last:
            result.issues.append(
                issue(
                    line,
                    LABELS["invoice_number"],
                    number,
                    N_("this invoice number is also on row %(row)d"),
                    row=first_line,
                )
            )
            continue

        def problem(
            field_name: str, value: Any, message: str, at: int = line, **params: Any
        ) -> None:
            result.issues.append(issue(at, LABELS[field_name], text(value, 60), message, **params))

        invoice_date = due_date = None
        try:
            invoice_date = parse_date(cell(cells, "invoice_date"))
        except ValueProblem as exc:
            problem("invoice_date", cell(cells, "invoice_date"), exc.msgid, **exc.params)
        raw_due = cell(cells, "due_date")
        if raw_due not in (None, ""):
            try:
                due_date = parse_date(raw_due)
            except ValueProblem as exc:
                problem("due_date", raw_due, exc.msgid, **exc.params)
        total = open_amount = None
        try:
            total = parse_amount(cell(cells, "total") if cell(cells, "total") is not None else "")
        except AmountError:
            problem("total", cell(cells, "total"), NOT_AN_AMOUNT)
        raw_open = cell(cells, "open")
        if raw_open not in (None, ""):
            try:
                open_amount = parse_amount(raw_open)
            except AmountError:
                problem("open", raw_open, NOT_AN_AMOUNT)
        raw_paid = cell(cells, "paid")
        if raw_open in (None, "") and raw_paid not in (None, "") and total is not None:
            try:
                open_amount = total - parse_amount(raw_paid)
            except AmountError:
                problem("paid", raw_paid, NOT_AN_AMOUNT)
        try:
            currency = parse_currency(cell(cells, "currency"))
        except ValueProblem as exc:
            problem("currency", cell(cells, "currency"), exc.msgid, **exc.params)
            currency = "EUR"
        kind_text = text(cell(cells, "kind"), 20).lower()
        if total is not None:
            if total == 0:
                problem("total", cell(cells, "total"), N_("the amount is zero"))
            elif total < 0 and kind_text in ("invoice", "factuur"):
                problem(
                    "total",
                    cell(cells, "total"),
                    N_(
                        "a negative amount on an invoice; "
                        "mark the row as a credit note or correct the amount"
                    ),
                )
            if open_amount is None:
                open_amount = total
            elif total > 0 and not 0 <= open_amount <= total:
                problem("open", raw_open, N_("the open amount must lie between 0 and the total"))
            elif total < 0 and not total <= open_amount <= 0:
                problem(
                    "open",
                    raw_open,
                    N_("a credit note's open amount must lie between its total and 0"),
                )
        if invoice_date and due_date and due_date < invoice_date:
            problem("due_date", raw_due, N_("the due date is before the invoice date"))
        email = text(cell(cells, "email"), 254).lower()
        if email and ("@" not in email or " " in email):
            problem("email", email, N_("not an email address"))
        if len(result.issues) > issues_before or invoice_date is None or total is None:
            continue
        assert open_amount is not None
        if first_line != line:
            assert last is not None  # line_of_last
            if _same_invoice(last, cells, cell, due_date, currency):
                lines.add(last, total, open_amount, line)
            else:
                problem(
                    "invoice_number",
                    number,
                    N_(
                        "this invoice number is also on row %(row)d, "
                        "with another customer, date or currency"
                    ),
                    row=first_line,
                )
            continue
        lines.close(result)
        kind_of_customer = customer_kind(cell(cells, "customer_type"))
        if kind_of_customer is None:
            result.issues.append(
                issue(
                    line,
                    LABELS["customer_type"],
                    text(cell(cells, "customer_type"), 60),
                    N_(
                        "not a customer type we know (particulier, zakelijk, B2C, B2B);"
                        " the brand's default is used"
                    ),
                    "warning",
                )
            )
            kind_of_customer = ""
        if not kind_of_customer and (
            text(cell(cells, "company_number"), 40) or text(cell(cells, "vat_number"), 40)
        ):
            kind_of_customer = "b2b"  # a KvK, KBO or VAT number: a business
        step = last_step(cell(cells, "last_step"))
        if step is None:
            result.issues.append(
                issue(
                    line,
                    LABELS["last_step"],
                    text(cell(cells, "last_step"), 60),
                    N_(
                        "not a reminder step we know (herinnering, aanmaning, 14-dagenbrief,"
                        " or a number); the invoice starts at the first step"
                    ),
                    "warning",
                )
            )
            step = ""
        reference = text(cell(cells, "payment_reference"), 40)
        if reference and _looks_structured(reference) and references.parse(reference) is None:
            result.issues.append(
                issue(
                    line,
                    LABELS["payment_reference"],
                    reference,
                    N_("the check digits of this payment reference are wrong"),
                    "warning",
                )
            )
        if total < 0 and not kind_text.startswith(("credit", "crédit", "note de cr")):
            result.issues.append(
                issue(
                    line,
                    LABELS["total"],
                    text(cell(cells, "total"), 60),
                    N_("a negative amount: this row is imported as a credit note"),
                    "warning",
                )
            )
        country = text(cell(cells, "country"), 2).upper()
        phone = _phone(result, line, cell(cells, "phone"), region_for(country, brand_country))
        result.rows.append(
            Row(
                line=line,
                invoice_number=number,
                debtor_number=text(cell(cells, "debtor_number"), 40),
                name=text(cell(cells, "name"), 200),
                email=email,
                phone=phone,
                invoice_date=invoice_date,
                due_date=due_date or invoice_date + dt.timedelta(days=term),
                total_cents=total,
                open_cents=open_amount,
                currency=currency,
                description=text(cell(cells, "description"), 2000),
                reference=text(cell(cells, "reference"), 80),
                address=text(cell(cells, "address"), 200),
                postcode=text(cell(cells, "postcode"), 12),
                city=text(cell(cells, "city"), 100),
                country=country,
                language=text(cell(cells, "language"), 2).lower(),
                kind="credit_note" if total < 0 else "invoice",
                customer_kind=kind_of_customer,
                last_step=step,
                payment_reference=reference,
            )
        )
        _share(result.rows[-1], shared)
    lines.close(result)


# the rows of one customer repeat its name, address ...; dates repeat across rows
_SHARED_FIELDS = (
    "debtor_number",
    "name",
    "email",
    "phone",
    "currency",
    "address",
    "postcode",
    "city",
    "country",
    "language",
    "invoice_date",
    "due_date",
)


def _share(row: Row, pool: dict[Any, Any]) -> None:
    """Keep one object per distinct value across the rows: a large preview holds every row,
    and equal names, addresses and dates would otherwise each be an object of their own."""
    for name in _SHARED_FIELDS:
        value = getattr(row, name)
        setattr(row, name, pool.setdefault(value, value))


def _looks_structured(reference: str) -> bool:
    compact = reference.replace(" ", "").upper()
    return compact.startswith(("RF", "+++", "***"))


def _phone(result: Preview, line: int, value: Any, region: str) -> str:
    """The row's phone in E.164; a number we cannot use is left out with a warning,
    since the invoice itself is fine (DESIGN.md section 9: phone is an optional column)."""
    raw = text(value, 60)
    if not raw:
        return ""
    try:
        return normalise(raw, region)
    except PhoneError as exc:
        result.issues.append(
            issue(line, LABELS["phone"], raw, PHONE_LEFT_EMPTY[exc.reason], "warning", **exc.params)
        )
        return ""


def _same_invoice(
    last: Row,
    cells: Sequence[Any],
    cell: Callable[[Sequence[Any], str], Any],
    due_date: dt.date | None,
    currency: str,
) -> bool:
    """Whether a row repeats the invoice of the row above it (an invoice-per-line export)."""
    return (
        text(cell(cells, "debtor_number"), 40) == last.debtor_number
        and text(cell(cells, "name"), 200) == last.name
        and parse_date(cell(cells, "invoice_date")) == last.invoice_date
        and (due_date is None or due_date == last.due_date)
        and currency == last.currency
    )


@dataclass
class _LineGroup:
    """Consecutive rows of one invoice, as exports with one row per invoice line have them.

    Where every line carries the same amount, it is the invoice's amount repeated (Invoice
    Ninja); otherwise the lines are the invoice's parts and are added up (Wave). Either way
    the row gets a warning that says what was done, so the admin can check it.
    """

    row: Row | None = None
    amounts: list[tuple[int, int]] = field(default_factory=list)  # (total, open) per line
    last_line: int = 0  # the sheet row of the group's last line (blank rows may lie between)

    def add(self, row: Row, total: int, open_cents: int, line: int) -> None:
        """One more line (sheet row `line`) of `row`'s invoice."""
        if self.row is not row:
            self.row, self.amounts = row, [(row.total_cents, row.open_cents)]
        self.amounts.append((total, open_cents))
        self.last_line = line

    def close(self, result: Preview) -> None:
        """Settle the group's amounts on its first row and say what was done."""
        row, amounts, last = self.row, self.amounts, self.last_line
        self.row, self.amounts = None, []
        if row is None or len(amounts) < 2:
            return
        if len(set(amounts)) == 1:
            message = LINES_REPEATED
        else:
            row.total_cents = sum(t for t, _ in amounts)
            row.open_cents = sum(o for _, o in amounts)
            message = (
                "rows %(first)d to %(last)d are lines of one invoice; their amounts were added up"
            )
        result.issues.append(
            issue(
                row.line,
                LABELS["invoice_number"],
                row.invoice_number,
                message,
                "warning",
                first=row.line,
                last=last,
            )
        )


@dataclass
class _Plan:
    debtor_for_row: dict[int, int | str] = field(default_factory=dict)  # line -> id or new key
    new_debtors: dict[str, Row] = field(default_factory=dict)  # key -> first row
    inserts: list[Row] = field(default_factory=list)
    updates: list[tuple[int, Row]] = field(default_factory=list)
    paid_elsewhere: list[int] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    unchanged: int = 0
    # invoice id -> (open amount the accounting package reported before, open now)
    seen_open: dict[int, tuple[int, int]] = field(default_factory=dict)
    by_reference: dict[int, int] = field(default_factory=dict)  # invoice id -> reference id


def _recently_paid_here(session: Session, brand: Brand, lag_days: int) -> set[int]:
    """Invoices with a portal payment younger than the booking lag (DESIGN.md section 9).

    The accounting package may not have booked such a payment yet, so an export that shows
    a higher open amount is probably older than the payment: the import may not raise it.
    """
    cutoff = utcnow() - dt.timedelta(days=lag_days)
    return set(
        session.scalars(
            select(Allocation.invoice_id)
            .join(Payment, Payment.id == Allocation.payment_id)
            .where(
                Payment.brand_id == brand.id,
                Payment.paid_at >= cutoff,
                Allocation.amount_cents > Allocation.reversed_cents,
            )
        )
    )


def _plan(session: Session, brand: Brand, result: Preview) -> _Plan:
    plan = _Plan()
    by_number = {
        n: i
        for n, i in session.execute(
            select(Debtor.number, Debtor.id).where(Debtor.brand_id == brand.id)
        )
    }
    has_number_column = result.header is not None and "debtor_number" in result.header.columns
    by_email: dict[str, list[int]] = {}
    if not has_number_column:
        for email, debtor_id in session.execute(
            select(DebtorEmail.email, DebtorEmail.debtor_id)
            .join(Debtor, Debtor.id == DebtorEmail.debtor_id)
            .where(Debtor.brand_id == brand.id)
        ):
            by_email.setdefault(email, []).append(debtor_id)
    existing = {
        row.number: row
        for row in session.execute(
            select(
                Invoice.id,
                Invoice.number,
                Invoice.debtor_id,
                Invoice.import_open_cents,
                *[getattr(Invoice, c) for c in COMPARED],
            ).where(Invoice.brand_id == brand.id, Invoice.kind.not_in(CHARGE_KINDS))
        )
    }
    paid_here = _recently_paid_here(session, brand, result.booking_lag_days)
    confirmed = _confirmed_contacts(session, brand)
    for row in result.rows:
        debtor: int | str | None = None
        if row.debtor_number:
            debtor = by_number.get(row.debtor_number) or f"n:{row.debtor_number}"
        elif row.email and len(by_email.get(row.email, [])) == 1:
            debtor = by_email[row.email][0]
        elif row.email and len(by_email.get(row.email, [])) > 1:
            plan.issues.append(
                issue(
                    row.line,
                    LABELS["email"],
                    row.email,
                    N_("several customers have this address; add a customer number column"),
                )
            )
            continue
        elif row.email:
            debtor = f"e:{row.email}"
        else:
            plan.issues.append(
                issue(
                    row.line,
                    LABELS["debtor_number"],
                    "",
                    N_("each row needs a customer number or an email address"),
                )
            )
            continue
        if isinstance(debtor, str) and debtor not in plan.new_debtors:
            if not row.email:
                plan.issues.append(
                    issue(
                        row.line, LABELS["email"], "", N_("a new customer needs an email address")
                    )
                )
                continue
            plan.new_debtors[debtor] = row
        plan.debtor_for_row[row.line] = debtor
        if isinstance(debtor, int) and debtor in confirmed:
            differs = _differs_from_confirmed(row, confirmed.pop(debtor))
            if differs:  # said once per customer, on its first row
                plan.warnings.append(
                    issue(row.line, LABELS[differs], "", CONFIRMED_CONTACT, "warning")
                )
        old = existing.get(row.invoice_number)
        if old is None:
            plan.inserts.append(row)
            continue
        if isinstance(debtor, str) or old.debtor_id != debtor:
            plan.issues.append(
                issue(
                    row.line,
                    LABELS["invoice_number"],
                    row.invoice_number,
                    N_("this invoice number belongs to another customer"),
                )
            )
            continue
        if old.id in paid_here and row.open_cents > old.open_cents:
            plan.warnings.append(
                issue(
                    row.line,
                    LABELS["open"],
                    f"{row.open_cents / 100:.2f}",
                    RECENTLY_PAID,
                    "warning",
                )
            )
            row.open_cents = old.open_cents
        # where costs and interest took part of a payment made elsewhere (art. 6:44 BW),
        # the file is compared with what it said before, not with the portal's principal
        seen = old.open_cents if old.import_open_cents is None else old.import_open_cents
        plan.seen_open[old.id] = (seen, old.open_cents)
        was = {c: getattr(old, c) for c in COMPARED}
        if old.import_open_cents is not None:
            was["open_cents"] = seen
            was["status"] = InvoiceStatus.PAID.value if seen == 0 else InvoiceStatus.OPEN.value
        if _values(row) != tuple(was[c] for c in COMPARED):
            plan.updates.append((old.id, row))
            if row.payment_reference and row.open_cents < seen:
                _recognise(session, brand, row, old.id, plan)
        else:
            plan.unchanged += 1
    if result.mode == "open_items":
        in_file = {r.invoice_number for r in result.rows}
        plan.paid_elsewhere = [
            old.id
            for number, old in existing.items()
            if number not in in_file and old.status == InvoiceStatus.OPEN and old.open_cents != 0
        ]
        for number, old in existing.items():
            if number not in in_file:
                seen = old.open_cents if old.import_open_cents is None else old.import_open_cents
                plan.seen_open[old.id] = (seen, old.open_cents)
    return plan


def _recognise(session: Session, brand: Brand, row: Row, invoice_id: int, plan: _Plan) -> None:
    """A payment made elsewhere that names one of our payment references: remember which
    request it paid; a reference of another request or brand gets a warning."""
    found = references.recognise(session, brand, row.payment_reference)
    if found is not None and invoice_id in found.invoice_ids:
        plan.by_reference[invoice_id] = found.id
    elif references.parse(row.payment_reference) is not None:
        plan.warnings.append(
            issue(
                row.line,
                LABELS["payment_reference"],
                row.payment_reference,
                N_("this payment reference was not made for this invoice"),
                "warning",
            )
        )


CONFIRMED_CONTACT = N_(
    "the customer confirmed other contact details in the portal; those are kept and this"
    " file's are not used"
)


def _confirmed_contacts(session: Session, brand: Brand) -> dict[int, dict[str, Any]]:
    """Contact details that debtors of `brand` confirmed in the portal, by debtor id."""
    rows = session.execute(
        select(Debtor.id, Debtor.phone, Debtor.address_line, Debtor.postcode, Debtor.city).where(
            Debtor.brand_id == brand.id, Debtor.contact_confirmed_at.is_not(None)
        )
    ).all()
    found = {
        r.id: {
            "phone": r.phone,
            "address": r.address_line,
            "postcode": r.postcode,
            "city": r.city,
            "emails": set(),
        }
        for r in rows
    }
    if found:
        for debtor_id, email in session.execute(
            select(DebtorEmail.debtor_id, DebtorEmail.email).where(
                DebtorEmail.debtor_id.in_(list(found))
            )
        ):
            found[debtor_id]["emails"].add(email)
    return found


def _differs_from_confirmed(row: Row, confirmed: dict[str, Any]) -> str:
    """The first column in which the row names other contact details than the debtor
    confirmed, or "" (an empty cell names nothing)."""
    if row.email and row.email not in confirmed["emails"]:
        return "email"
    for column in ("phone", "address", "postcode", "city"):
        value = getattr(row, column)
        if value and value.strip().lower() != (confirmed[column] or "").strip().lower():
            return column
    return ""


def _values(row: Row) -> tuple[Any, ...]:
    status = InvoiceStatus.PAID.value if row.open_cents == 0 else InvoiceStatus.OPEN.value
    return (
        row.invoice_date,
        row.due_date,
        row.currency,
        row.total_cents,
        row.open_cents,
        row.description,
        row.reference,
        row.kind,
        status,
    )


def commit(
    session: Session, result: Preview, *, brand: Brand, by: str, progress: Progress | None = None
) -> CommitResult:
    """Apply a clean preview: bulk statements, then the caller commits once (all or nothing)."""
    report = progress or _silent
    if not result.can_commit:
        raise ImportRefused("the preview has errors" if result.errors else "nothing to import")
    report("writing", 0, len(result.rows))
    plan = _plan(session, brand, result)  # again, inside the write transaction
    if plan.issues:
        raise ImportRefused("the data changed since the preview; check it again")
    now = utcnow()
    new_ids: dict[str, int] = {}
    if plan.new_debtors:
        keys = list(plan.new_debtors)
        numbers = {key: _debtor_number(key, plan.new_debtors[key]) for key in keys}
        insert_rows(
            session,
            Debtor,
            [_debtor_values(brand, numbers[k], plan.new_debtors[k], now) for k in keys],
        )
        by_number = dict(
            session.execute(
                select(Debtor.number, Debtor.id).where(Debtor.brand_id == brand.id)
            ).all()
        )
        new_ids = {key: by_number[numbers[key]] for key in keys}
        insert_rows(
            session,
            DebtorEmail,
            [{"debtor_id": new_ids[k], "email": plan.new_debtors[k].email} for k in keys],
        )

    def debtor_id(row: Row) -> int:
        ref = plan.debtor_for_row[row.line]
        return new_ids[ref] if isinstance(ref, str) else ref

    by_debtor: dict[int, list[int]] = {}
    if plan.inserts:
        insert_rows(
            session,
            Invoice,
            (_invoice_values(brand, debtor_id(r), r, now) for r in plan.inserts),
        )
        ids = dict(
            session.execute(
                select(Invoice.number, Invoice.id).where(Invoice.brand_id == brand.id)
            ).all()
        )
        for row in plan.inserts:
            by_debtor.setdefault(debtor_id(row), []).append(ids[row.invoice_number])
        insert_rows(
            session,
            AuditEvent,
            (
                _event(by, "invoice.imported", now, debtor_id(r), ids[r.invoice_number])
                for r in plan.inserts
            ),
        )
        placed = [(ids[r.invoice_number], debtor_id(r), r.last_step) for r in plan.inserts]
        _place_on_schedules(session, [p for p in placed if p[2]], now)
    principal = _principal_after_charges(session, plan, by)
    if plan.updates:
        session.execute(
            update(Invoice),
            [
                {
                    "id": invoice_id,
                    **_changed_values(row),
                    **principal.get(invoice_id, {}),
                    "updated_at": now,
                }
                for invoice_id, row in plan.updates
            ],
        )
        insert_rows(
            session,
            AuditEvent,
            [
                _event(by, "invoice.updated", now, debtor_id(row), invoice_id)
                for invoice_id, row in plan.updates
            ],
        )
    ledger.paid_elsewhere(session, plan.paid_elsewhere, principal, by, now)
    if plan.by_reference:
        insert_rows(
            session,
            AuditEvent,
            [
                {
                    **_event(by, "payment.reference_recognised", now, None, i),
                    "details": {"reference": r},
                }
                for i, r in plan.by_reference.items()
            ],
        )
    if plan.updates or plan.paid_elsewhere:  # money booked in the accounting package
        ledger.open_amounts_changed(session, ledger.Change(brand_id=brand.id), now)
    counts = {
        "new_debtors": len(plan.new_debtors),
        "new_invoices": len(plan.inserts),
        "updated_invoices": len(plan.updates),
        "unchanged": result.unchanged,
        "paid_elsewhere": len(plan.paid_elsewhere),
    }
    batch = ImportBatch(
        brand_id=brand.id,
        filename=result.filename[:255],
        file_hash=result.file_hash,
        mode=result.mode,
        counts=counts,
        created_by=by,
        committed_at=now,
    )
    session.add(batch)
    session.flush()
    return CommitResult(
        batch.id,
        counts["new_debtors"],
        counts["new_invoices"],
        counts["updated_invoices"],
        counts["paid_elsewhere"],
        by_debtor,
    )


def _principal_after_charges(session: Session, plan: _Plan, by: str) -> dict[int, dict[str, Any]]:
    """Art. 6:44 BW for money paid elsewhere: what the file shows as paid on an invoice
    settles its claims' costs and interest first, and only the rest lowers its principal.
    Returns the columns to write instead of the file's open amount, for the invoices whose
    claims took a part (their `import_open_cents` keeps what the file said)."""
    reported = {invoice_id: row.open_cents for invoice_id, row in plan.updates}
    reported.update({invoice_id: 0 for invoice_id in plan.paid_elsewhere})
    paid = {
        invoice_id: plan.seen_open[invoice_id][0] - cents
        for invoice_id, cents in reported.items()
        if invoice_id in plan.seen_open and plan.seen_open[invoice_id][0] > cents
    }
    left = ledger.settle_elsewhere(session, paid, by)
    columns: dict[int, dict[str, Any]] = {}
    for invoice_id, cents in reported.items():
        if invoice_id not in plan.seen_open:
            continue
        seen, portal_open = plan.seen_open[invoice_id]
        delta = paid.get(invoice_id, 0)
        if left.get(invoice_id, delta) == delta and seen == portal_open:
            continue  # no costs or interest took a part: the file's figure stands
        open_now = portal_open - left.get(invoice_id, 0) + max(cents - seen, 0)
        open_now = max(open_now, 0)
        status = InvoiceStatus.PAID.value if open_now == 0 else InvoiceStatus.OPEN.value
        columns[invoice_id] = {
            "open_cents": open_now,
            "status": status,
            "import_open_cents": reported[invoice_id],
        }
    return columns


def _place_on_schedules(
    session: Session, placed: list[tuple[int, int, str]], now: dt.datetime
) -> None:
    """New invoices whose file says which reminder step was already sent (DESIGN.md
    section 9): that step and those before it are recorded as done today, so the run
    goes on with the next one after the schedule's gap and never sends them again."""
    if not placed:
        return
    debtor_ids = sorted({d for _i, d, _s in placed})
    debtors = {
        row.id: row
        for start in range(0, len(debtor_ids), 5000)
        for row in session.execute(
            select(Debtor.id, Debtor.kind, Debtor.country, Segment.schedule_id)
            .outerjoin(Segment, Segment.id == Debtor.segment_id)
            .where(Debtor.id.in_(debtor_ids[start : start + 5000]))
        )
    }
    schedules = {
        s.id: s
        for s in session.scalars(
            select(ReminderSchedule).options(selectinload(ReminderSchedule.steps))
        )
    }

    def schedule_of(debtor: Any) -> ReminderSchedule | None:
        if debtor.schedule_id:
            return schedules.get(debtor.schedule_id)
        defaults = sorted(
            (
                s
                for s in schedules.values()
                if s.default_for == debtor.kind and s.default_country in (debtor.country, None)
            ),
            key=lambda s: (s.default_country is None, s.id),
        )
        return defaults[0] if defaults else None

    day = now.astimezone(ZoneInfo(DEFAULT_TZ)).date()
    rows: list[dict[str, Any]] = []
    for invoice_id, debtor_id, step in placed:
        schedule = schedule_of(debtors[debtor_id])
        target = _target_position(schedule, step) if schedule else None
        if schedule is None or target is None:
            continue
        rows.extend(
            {"invoice_id": invoice_id, "step_id": s.id, "sent_on": day, "message_id": None}
            for s in schedule.steps
            if s.position <= target
        )
    insert_rows(session, InvoiceReminder, rows)


def _target_position(schedule: ReminderSchedule, step: str) -> int | None:
    """The position of the step a 'kind:n' or 'level:n' names in this schedule."""
    kind, _sep, raw = step.partition(":")
    n = int(raw or 1)
    steps = sorted(schedule.steps, key=lambda s: s.position)
    if kind == "level":
        after_due = [s for s in steps if s.offset_days >= 0]
        chosen = after_due[min(n, len(after_due)) - 1] if after_due and n > 0 else None
    else:
        of_kind = [s for s in steps if s.kind == kind]
        chosen = of_kind[min(n, len(of_kind)) - 1] if of_kind else None
    return chosen.position if chosen else None


def _debtor_number(key: str, row: Row) -> str:
    if key.startswith("n:"):
        return key[2:]
    return "E" + hashlib.sha256(row.email.encode()).hexdigest()[:10].upper()


def _event(
    by: str, action: str, now: dt.datetime, debtor_id: int | None, invoice_id: int
) -> dict[str, Any]:
    return {
        "actor": by,
        "action": action,
        "debtor_id": debtor_id,
        "invoice_id": invoice_id,
        "details": {},
        "at": now,
    }


def _debtor_values(brand: Brand, number: str, row: Row, now: dt.datetime) -> dict[str, Any]:
    return {
        "brand_id": brand.id,
        "number": number,
        "name": row.name or row.email,
        "kind": row.customer_kind or brand.default_debtor_kind,
        "language": row.language if row.language in ("nl", "en", "fr") else brand.default_language,
        "phone": row.phone,
        "address_line": row.address,
        "postcode": row.postcode,
        "city": row.city,
        "country": row.country or brand.country,
        "segment_id": None,
        "created_at": now,
    }


def _changed_values(row: Row) -> dict[str, Any]:
    return dict(zip(COMPARED, _values(row), strict=True))


def _invoice_values(brand: Brand, debtor_id: int, row: Row, now: dt.datetime) -> dict[str, Any]:
    return {
        "brand_id": brand.id,
        "debtor_id": debtor_id,
        "number": row.invoice_number,
        **_changed_values(row),
        "has_original_pdf": False,
        "original_pdf": None,
        "created_at": now,
        "updated_at": now,
    }
