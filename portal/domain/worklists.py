"""Work in bulk on the admin's invoice and debtor lists: the rows ticked, or every row the
list's filter matches, paused, resumed, sent a second chance or exported; and filters
saved under a name per admin.

The filter's rows are read again when the work is done (never trusted from the browser),
at most `MAX_ROWS` at once, each invoice under its row lock; every change writes the
audit events its single-row form writes, plus one `admin.bulk` event that says what was
asked, on how many, and how they were chosen.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from portal.domain import audit, sheets
from portal.domain.dunning import holds
from portal.domain.payments import second_chance
from portal.models import (
    SAVED_FILTER_LISTS,
    Debtor,
    Invoice,
    InvoiceStatus,
    SavedFilter,
)

MAX_ROWS = 5000  # invoices one bulk action may touch (the confirmation says so)
CHANGES = ("pause", "resume", "second_chance")
EXPORTS = ("xlsx", "csv")
MAX_FILTERS = 30  # saved filters per admin and list


class TooMany(ValueError):
    """More rows match than one bulk action may touch."""


@dataclass(frozen=True)
class Outcome:
    """What a bulk change did: rows changed, and rows it left as they were."""

    done: int
    skipped: int


def count(session: Session, ids: Select[Any]) -> int:
    """How many rows a selection of ids holds."""
    return int(session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


def open_invoices_of_debtors(debtor_ids: Select[Any]) -> Select[Any]:
    """The open invoices of the debtors selected (what a debtor-list action acts on)."""
    return select(Invoice.id).where(
        Invoice.debtor_id.in_(debtor_ids), Invoice.status == InvoiceStatus.OPEN
    )


def _locked(session: Session, invoice_ids: Select[Any]) -> list[Invoice]:
    rows = list(
        session.scalars(
            select(Invoice)
            .where(Invoice.id.in_(invoice_ids))
            .order_by(Invoice.id)
            .limit(MAX_ROWS + 1)
            .with_for_update()
        )
    )
    if len(rows) > MAX_ROWS:
        raise TooMany(str(MAX_ROWS))
    return rows


def apply(
    session: Session,
    action: str,
    invoice_ids: Select[Any],
    actor: str,
    today: dt.date,
    *,
    scope: str,
    described: str,
    mailer: second_chance.SecondChanceMailer | None = None,
    link_days: int = 14,
) -> Outcome:
    """Pause, resume or send a second chance for the invoices selected, in the caller's
    transaction; `scope` ("selection" or "filter") and `described` (the filter's query)
    go into the audit event."""
    if action not in CHANGES:
        raise ValueError(f"unknown bulk action {action!r}")
    invoices = _locked(session, invoice_ids)
    done = 0
    # only holds set by hand: a dispute, promise or plan keeps its own hold (and reason)
    if action == "pause":
        for invoice in invoices:
            if invoice.status == InvoiceStatus.OPEN and not invoice.hold_reason:
                holds.pause(session, invoice, "paused", None, actor, today)
                done += 1
    elif action == "resume":
        done = sum(
            1
            for invoice in invoices
            if invoice.hold_reason == "paused" and holds.resume(session, invoice, actor)
        )
    else:
        assert mailer is not None
        by_debtor: dict[int, list[Invoice]] = {}
        for invoice in invoices:
            by_debtor.setdefault(invoice.debtor_id, []).append(invoice)
        for debtor_id, own in by_debtor.items():
            debtor = session.get(Debtor, debtor_id)
            if debtor is not None and second_chance.send_now(
                session, mailer, debtor, own, actor, link_days=link_days
            ):
                done += len(second_chance.still_open(own))
    audit.record(
        session,
        actor,
        "admin.bulk",
        work=action,
        scope=scope,
        filter=described,
        chosen=len(invoices),
        changed=done,
    )
    return Outcome(done, len(invoices) - done)


EXPORT_HEADER = (
    "Invoice number",
    "Customer number",
    "Customer",
    "Invoice date",
    "Due date",
    "Currency",
    "Total",
    "Open",
    "Status",
    "Reminders paused",
)


def export_rows(session: Session, invoice_ids: Select[Any]) -> Iterable[list[Any]]:
    """The invoices selected as rows (amounts as numbers in the currency, not cents)."""
    yield list(EXPORT_HEADER)
    stmt = (
        select(Invoice)
        .where(Invoice.id.in_(invoice_ids))
        .options(joinedload(Invoice.debtor))
        .order_by(Invoice.due_date, Invoice.id)
        .limit(MAX_ROWS)
    )
    for invoice in session.scalars(stmt):
        yield [
            invoice.number,
            invoice.debtor.number,
            invoice.debtor.name,
            invoice.invoice_date,
            invoice.due_date,
            invoice.currency,
            invoice.total_cents / 100,
            invoice.open_cents / 100,
            str(invoice.status),
            invoice.hold_reason or "",
        ]


def to_xlsx(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows as an xlsx workbook, through the formula guard of sheets.py."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Invoices")
    for row in rows:
        sheet.append(sheets.xlsx_row(sheet, row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def to_csv(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV (semicolons, every text quoted and guarded)."""
    out = io.StringIO()
    writer = sheets.csv_writer(out)
    for row in rows:
        writer.writerow(sheets.csv_row(v.isoformat() if isinstance(v, dt.date) else v for v in row))
    return out.getvalue()


# ------------------------------------------------------------------ saved filters
class FilterRefused(ValueError):
    """A filter cannot be saved as asked."""


def saved_filters(session: Session, admin_id: int, list_name: str) -> list[SavedFilter]:
    """The admin's saved filters of one list, by name."""
    return list(
        session.scalars(
            select(SavedFilter)
            .where(SavedFilter.admin_user_id == admin_id, SavedFilter.list_name == list_name)
            .order_by(SavedFilter.name)
        )
    )


def save_filter(
    session: Session, admin_id: int, list_name: str, name: str, query: str, actor: str
) -> SavedFilter:
    """Save (or replace) the admin's filter `name` of a list."""
    name = " ".join(name.split())[:60]
    if list_name not in SAVED_FILTER_LISTS or not name:
        raise FilterRefused("name")
    row = session.scalar(
        select(SavedFilter).where(
            SavedFilter.admin_user_id == admin_id,
            SavedFilter.list_name == list_name,
            SavedFilter.name == name,
        )
    )
    if row is None:
        if len(saved_filters(session, admin_id, list_name)) >= MAX_FILTERS:
            raise FilterRefused("too many")
        row = SavedFilter(admin_user_id=admin_id, list_name=list_name, name=name)
        session.add(row)
    row.query = query[:500]
    audit.record(session, actor, "admin.filter_saved", list=list_name, name=name)
    return row


def delete_filter(session: Session, admin_id: int, filter_id: int, actor: str) -> bool:
    """Remove one of the admin's own saved filters; False when it is not theirs."""
    row = session.get(SavedFilter, filter_id)
    if row is None or row.admin_user_id != admin_id:
        return False
    session.delete(row)
    audit.record(session, actor, "admin.filter_removed", list=row.list_name, name=row.name)
    return True
