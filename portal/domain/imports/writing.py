"""Writing: a plan carried out in bulk statements inside the caller's transaction.

New debtors and invoices are inserted in bulk, changed invoices updated in one statement,
and money the accounting package booked goes through the ledger (art. 6:44 BW: costs and
interest first), which ends with its one "open amounts changed" step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from portal.domain import ledger
from portal.domain.bulk import insert_rows
from portal.domain.imports.planning import COMPARED, Plan, values
from portal.domain.imports.rows import Row
from portal.models import (
    AuditEvent,
    Brand,
    Debtor,
    DebtorEmail,
    Invoice,
    InvoiceReminder,
    InvoiceStatus,
    ReminderSchedule,
    Segment,
)

DEFAULT_TZ = "Europe/Amsterdam"


def apply(
    session: Session, brand: Brand, plan: Plan, *, by: str, now: dt.datetime
) -> dict[int, list[int]]:
    """Carry out `plan` in bulk statements (the caller commits once: all rows or none):
    new debtors and invoices, changed invoices, money paid elsewhere through the ledger.
    Returns per debtor the invoices this batch created (for the "new invoices" mails)."""
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
    return by_debtor


def _principal_after_charges(session: Session, plan: Plan, by: str) -> dict[int, dict[str, Any]]:
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
    return dict(zip(COMPARED, values(row), strict=True))


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
