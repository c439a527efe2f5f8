"""What an agency reports back, as an uploaded sheet (xlsx or CSV) or a signed JSON
callback, booked through the normal money path, each line exactly once.

A line says what happened to one invoice of a claim it handles:

- `collected`: money the agency received. It becomes a payment (provider `agency`) that
  `payments.service.apply_truth` books as any payment: costs, interest, then principal
  (art. 6:44 BW), with the same audit events insight reads;
- `costs`: what the agency charges us for it; kept on the hand-over (our expense, not
  the debtor's debt);
- `write_off`: the agency could not collect it: written off (`writeoff.py`);
- `returned`: the agency gives the claim back: the invoice is ours again (queue: stopped).

The idempotency key of a line is the agency's own line reference, or, when the report
has none, a hash of the line's invoice, kind, amount and date. The unique (agency, key) of
`agency_report_line` is the last guard: a report uploaded twice books nothing twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.collection import handover as handover_domain
from portal.domain.collection import writeoff
from portal.domain.collection.models import (
    Agency,
    AgencyReport,
    AgencyReportLine,
    Handover,
    HandoverInvoice,
)
from portal.domain.imports import readers
from portal.domain.imports.values import parse_date
from portal.domain.money import AmountError, parse_amount
from portal.domain.payments import service
from portal.domain.payments.providers.base import ProviderStatus, Status
from portal.domain.payments.selection import with_charges
from portal.domain.problems import N_, Problem
from portal.models import Debtor, Invoice, Payment

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 10_000
KINDS = {
    "collected": "collected",
    "ontvangen": "collected",
    "paid": "collected",
    "betaald": "collected",
    "costs": "costs",
    "kosten": "costs",
    "write_off": "write_off",
    "write-off": "write_off",
    "writeoff": "write_off",
    "afgeschreven": "write_off",
    "afboeking": "write_off",
    "returned": "returned",
    "return": "returned",
    "retour": "returned",
}
HEADERS = {
    "key": ("line", "line id", "reference", "ref", "regel", "kenmerk", "id"),
    "invoice": ("invoice", "invoice number", "factuur", "factuurnummer"),
    "kind": ("type", "kind", "soort"),
    "amount": ("amount", "bedrag"),
    "date": ("date", "datum"),
    "note": ("note", "opmerking", "remark"),
}


class ReportRefused(Problem):
    """A report we cannot read at all; the message says why."""


@dataclass(frozen=True)
class Line:
    """One line as read, before it is booked."""

    row: int
    key: str
    invoice: str
    kind: str
    amount_cents: int
    day: dt.date
    note: str


def _column_map(header: list[Any]) -> dict[str, int]:
    names = [str(h or "").strip().lower() for h in header]
    found = {}
    for field, aliases in HEADERS.items():
        for index, name in enumerate(names):
            if name in aliases:
                found[field] = index
                break
    missing = [f for f in ("invoice", "kind", "amount") if f not in found]
    if missing:
        raise ReportRefused(
            N_("The report needs the columns invoice, type and amount; missing: %(missing)s."),
            missing=", ".join(missing),
        )
    return found


def read_sheet(data: bytes, today: dt.date) -> tuple[list[Line], list[dict[str, Any]]]:
    """The lines of an uploaded xlsx/CSV and the problems of lines that cannot be read."""
    try:
        rows = readers.read_rows(data, max_bytes=MAX_BYTES, max_rows=MAX_LINES + 1)
    except readers.ReadError as exc:
        raise ReportRefused(exc.msgid, **exc.params) from None
    if not rows:
        raise ReportRefused(N_("The report is empty."))
    columns = _column_map(rows[0])
    cells = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(str(c or "").strip() for c in row):
            continue

        def cell(field: str, row: list[Any] = row) -> Any:
            index = columns.get(field)
            return row[index] if index is not None and index < len(row) else None

        cells.append((number, {f: cell(f) for f in HEADERS}))
    return parse_lines(cells, today)


def parse_lines(
    cells: Iterable[tuple[int, dict[str, Any]]], today: dt.date
) -> tuple[list[Line], list[dict[str, Any]]]:
    """Lines from raw values (a sheet's cells or a callback's JSON)."""
    lines: list[Line] = []
    problems: list[dict[str, Any]] = []
    for number, raw in cells:
        invoice = str(raw.get("invoice") or "").strip()
        if isinstance(raw.get("invoice"), float) and raw["invoice"].is_integer():
            invoice = str(int(raw["invoice"]))
        kind = KINDS.get(str(raw.get("kind") or "").strip().lower())
        if not invoice or kind is None:
            problems.append({"row": number, "problem": "invoice or type missing or unknown"})
            continue
        if (
            kind == "returned"
            and raw.get("amount_cents") is None
            and raw.get("amount") in (None, "")
        ):
            cents = 0  # a returned claim needs no amount
        elif raw.get("amount_cents") is not None:
            cents = raw["amount_cents"]
            if not isinstance(cents, int) or isinstance(cents, bool) or cents < 0:
                problems.append({"row": number, "problem": "amount_cents must be a whole number"})
                continue
        else:
            try:
                amount = raw.get("amount")
                cents = parse_amount(amount if isinstance(amount, str | int | float) else "")
            except AmountError:
                problems.append({"row": number, "problem": "amount not readable"})
                continue
        if cents < 0 or (cents == 0 and kind != "returned"):
            problems.append({"row": number, "problem": "amount must be more than zero"})
            continue
        day = today
        if raw.get("date") not in (None, ""):
            parsed = _date(raw["date"])
            if parsed is None:
                problems.append({"row": number, "problem": "date not readable"})
                continue
            day = parsed
        own = str(raw.get("key") or "").strip()
        if isinstance(raw.get("key"), float) and raw["key"].is_integer():
            own = str(int(raw["key"]))
        key = (
            own[:120]
            or "h:"
            + hashlib.sha256(f"{invoice}|{kind}|{cents}|{day.isoformat()}".encode()).hexdigest()[
                :40
            ]
        )
        lines.append(Line(number, key, invoice, kind, cents, day, str(raw.get("note") or "")[:500]))
    return lines, problems


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return parse_date(value)
    except (ValueError, TypeError):
        return None


# ------------------------------------------------------------------------ booking
def upload(
    session: Session, agency: Agency, filename: str, data: bytes, actor: str, today: dt.date
) -> AgencyReport:
    """Read and book an uploaded report."""
    if len(data) > MAX_BYTES:
        raise ReportRefused(N_("The file is larger than %(mb)d MB."), mb=MAX_BYTES // (1024 * 1024))
    lines, problems = read_sheet(data, today)
    report = AgencyReport(
        agency_id=agency.id,
        source="upload",
        filename=filename[:200],
        sha256=hashlib.sha256(data).hexdigest(),
        by=actor,
    )
    return book(session, agency, report, lines, problems, actor)


def callback(
    session: Session, agency: Agency, document: Any, body: bytes, today: dt.date
) -> AgencyReport:
    """Book a signed callback: `{"lines": [{"line", "invoice", "type", "amount_cents",
    "date", "note"}]}` (the signature was checked by the caller)."""
    if not isinstance(document, dict) or not isinstance(document.get("lines"), list):
        raise ReportRefused(N_("A callback is a JSON object with a list of lines."))
    raw = document["lines"][: MAX_LINES + 1]
    if len(raw) > MAX_LINES:
        raise ReportRefused(N_("At most %(n)d lines at once."), n=MAX_LINES)
    cells = []
    for index, item in enumerate(raw, start=1):
        item = item if isinstance(item, dict) else {}
        cells.append(
            (
                index,
                {
                    "key": item.get("line"),
                    "invoice": item.get("invoice"),
                    "kind": item.get("type"),
                    "amount_cents": item.get("amount_cents"),
                    "date": item.get("date"),
                    "note": item.get("note"),
                },
            )
        )
    lines, problems = parse_lines(cells, today)
    report = AgencyReport(
        agency_id=agency.id,
        source="callback",
        sha256=hashlib.sha256(body).hexdigest(),
        by=f"agency:{agency.id}",
    )
    return book(session, agency, report, lines, problems, f"agency:{agency.id}")


def book(
    session: Session,
    agency: Agency,
    report: AgencyReport,
    lines: list[Line],
    problems: list[dict[str, Any]],
    actor: str,
) -> AgencyReport:
    """Book each line once (a savepoint per line; a line booked before is counted, not
    booked again)."""
    session.add(report)
    session.flush()
    unreadable = len(problems)
    known = set(
        session.scalars(
            select(AgencyReportLine.key).where(
                AgencyReportLine.agency_id == agency.id,
                AgencyReportLine.key.in_([line.key for line in lines]),
            )
        )
    )
    touched: dict[int, Handover] = {}
    for line in lines:
        if line.key in known:
            report.already += 1
            continue
        found = _find(session, agency, line.invoice)
        if isinstance(found, str):
            problems.append({"row": line.row, "problem": found})
            continue
        h, invoice = found
        try:
            with session.begin_nested():
                _book_line(session, agency, report, h, invoice, line, actor)
        except IntegrityError:  # a report booking the same line at this moment
            report.already += 1
            continue
        except Problem as exc:
            problems.append({"row": line.row, "problem": str(exc)})
            continue
        known.add(line.key)
        report.booked += 1
        touched[h.id] = h
    for h in touched.values():  # a returned line leaves the rest of the hand-over done
        session.refresh(h)
        handover_domain.settle_if_done(session, h)
    report.lines = len(lines) + unreadable
    report.problems = problems
    audit.record(
        session,
        actor,
        "collection.report_booked",
        agency=agency.id,
        report=report.id,
        booked=report.booked,
        already=report.already,
        problems=len(problems),
    )
    session.flush()
    return report


def _find(session: Session, agency: Agency, number: str) -> tuple[Handover, Invoice] | str:
    """The agency's hand-over that holds invoice `number` (the current one first)."""
    rows = session.execute(
        select(Handover, Invoice, HandoverInvoice.current)
        .join(HandoverInvoice, HandoverInvoice.handover_id == Handover.id)
        .join(Invoice, Invoice.id == HandoverInvoice.invoice_id)
        .where(Handover.agency_id == agency.id, Invoice.number == number)
        .order_by(HandoverInvoice.current.desc(), Handover.id.desc())
    ).all()
    if not rows:
        return f"invoice {number} was not handed to this agency"
    if len({r.Invoice.id for r in rows}) > 1:
        return f"invoice number {number} is ambiguous (several brands)"
    return rows[0].Handover, rows[0].Invoice


def _book_line(
    session: Session,
    agency: Agency,
    report: AgencyReport,
    h: Handover,
    invoice: Invoice,
    line: Line,
    actor: str,
) -> None:
    record = AgencyReportLine(
        agency_id=agency.id,
        report_id=report.id,
        key=line.key,
        handover_id=h.id,
        invoice_id=invoice.id,
        kind=line.kind,
        amount_cents=line.amount_cents,
        booked_on=line.day,
        note=line.note,
    )
    session.add(record)
    session.flush()  # the unique (agency, key) speaks first: nothing is booked twice
    if line.kind == "collected":
        record.payment_id = _collected(session, agency, invoice, line).id
    elif line.kind == "costs":
        h.costs_cents += line.amount_cents
        audit.record(
            session,
            actor,
            "collection.agency_costs",
            debtor_id=invoice.debtor_id,
            invoice_id=invoice.id,
            amount_cents=line.amount_cents,
            currency=invoice.currency,
            handover=h.id,
            line=line.key,
        )
    elif line.kind == "write_off":
        writeoff.write_off(
            session,
            invoice,
            line.amount_cents,
            line.note or f"written off by {agency.name}",
            actor,
            line.day,
            source="agency",
        )
    else:
        handover_domain.give_back(session, h, {invoice.id}, line.note or "returned", actor)


def _collected(session: Session, agency: Agency, invoice: Invoice, line: Line) -> Payment:
    """Money the agency received: a payment booked by the payments' own state table."""
    debtor = session.get_one(Debtor, invoice.debtor_id)
    selection = with_charges(session, debtor, [invoice])
    payment = Payment(
        public_id=secrets.token_urlsafe(16),
        brand_id=invoice.brand_id,
        debtor_id=invoice.debtor_id,
        provider="agency",
        provider_ref=f"{agency.id}:{line.key}"[:120],
        method=None,
        amount_cents=line.amount_cents,
        currency=invoice.currency,
        description=f"Collected by {agency.name}"[:250],
        invoices=list(selection.invoices),
    )
    session.add(payment)
    session.flush()
    truth = ProviderStatus(
        provider_ref=payment.provider_ref or "",
        status=Status.PAID,
        amount_cents=line.amount_cents,
        currency=invoice.currency,
    )
    service.apply_truth(session, service.locked(session, payment.id), truth, None)
    return payment


def lines_of(session: Session, report_id: int) -> list[AgencyReportLine]:
    """The lines a report booked."""
    return list(
        session.scalars(
            select(AgencyReportLine)
            .where(AgencyReportLine.report_id == report_id)
            .order_by(AgencyReportLine.id)
        )
    )
