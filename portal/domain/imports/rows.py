"""Reading rows: the cells under a sheet's header checked into import rows.

Each row becomes a Row (amounts in cents, dates, a phone in E.164) or one Issue per bad
cell, as a person sees it in the spreadsheet. Nothing here reads the database: what the
rows mean against it is planning.py's part, the writes are writing.py's.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from portal.domain.imports.columns import LABELS, Header, customer_kind, last_step
from portal.domain.imports.values import ValueProblem, parse_currency, parse_date, text
from portal.domain.money import AmountError, parse_amount
from portal.domain.payments import references
from portal.domain.phones import PhoneError, normalise, region_for
from portal.domain.problems import N_, Problem, render

NOT_AN_AMOUNT = N_("not an amount; write it as 1.234,56 or 1234.56")
LINES_REPEATED = N_(
    "rows %(first)d to %(last)d are lines of one invoice; "
    "its amount repeats on each line and was taken once"
)
LINES_ADDED = N_("rows %(first)d to %(last)d are lines of one invoice; their amounts were added up")
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


def silent(phase: str, done: int, total: int) -> None:
    """The progress report of an import nobody watches."""


TOTAL_WORDS = ("totaal", "total", "subtotaal", "subtotal", "som", "sum")


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
    """One checked invoice row: amounts in cents, dates parsed, cells trimmed to size."""

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


def check_rows(
    sheet: Iterable[Sequence[Any]],
    header: Header,
    *,
    rows: list[Row],
    issues: list[Issue],
    term: int,
    report: Progress,
    brand_country: str = "NL",
    sheet_rows: int,
) -> None:
    """Check the rows under the header, appending the good ones to `rows` and every problem
    to `issues` (`sheet` is every row of the sheet, read once; `sheet_rows` how many there
    are, for the progress report; `term` the payment term of rows without a due date)."""
    cols = header.columns
    row_count = max(sheet_rows - header.row_index - 1, 0)
    seen: dict[str, int] = {}
    shared: dict[Any, Any] = {}
    lines = _LineGroup()
    previous = ""  # the invoice number of the data row above, whether it was good or bad

    def cell(cells: Sequence[Any], name: str) -> Any:
        index = cols.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    for offset, cells in enumerate(itertools.islice(sheet, header.row_index + 1, None)):
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
            issues.append(
                issue(line, LABELS["invoice_number"], "", N_("the invoice number is missing"))
            )
            continue
        issues_before = len(issues)
        first_line = seen.setdefault(number, line)
        last = rows[-1] if rows else None
        # a line of the invoice above only when the row right above is that invoice: a
        # repeat further down is an error, even with bad rows (left out) in between
        line_of_last = previous == number and last is not None and last.invoice_number == number
        previous = number
        if first_line != line and not line_of_last:
            issues.append(
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
            issues.append(issue(at, LABELS[field_name], text(value, 60), message, **params))

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
        if len(issues) > issues_before or invoice_date is None or total is None:
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
        lines.close(issues)
        kind_of_customer = customer_kind(cell(cells, "customer_type"))
        if kind_of_customer is None:
            issues.append(
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
            issues.append(
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
            issues.append(
                issue(
                    line,
                    LABELS["payment_reference"],
                    reference,
                    N_("the check digits of this payment reference are wrong"),
                    "warning",
                )
            )
        if total < 0 and not kind_text.startswith(("credit", "crédit", "note de cr")):
            issues.append(
                issue(
                    line,
                    LABELS["total"],
                    text(cell(cells, "total"), 60),
                    N_("a negative amount: this row is imported as a credit note"),
                    "warning",
                )
            )
        country = text(cell(cells, "country"), 2).upper()
        phone = _phone(issues, line, cell(cells, "phone"), region_for(country, brand_country))
        rows.append(
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
        _share(rows[-1], shared)
    lines.close(issues)


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


def _phone(issues: list[Issue], line: int, value: Any, region: str) -> str:
    """The row's phone in E.164; a number we cannot use is left out with a warning,
    since the invoice itself is fine (DESIGN.md section 9: phone is an optional column)."""
    raw = text(value, 60)
    if not raw:
        return ""
    try:
        return normalise(raw, region)
    except PhoneError as exc:
        issues.append(
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

    def close(self, issues: list[Issue]) -> None:
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
        issues.append(
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
