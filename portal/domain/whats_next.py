"""What happens next with a debtor's open invoices: the hold they are under (plan,
dispute, promise) or the last reminder sent and the next one with its earliest date.

Dates follow the daily run's rules (`dunning/engine.py`): the next step of the schedule
not yet sent, no sooner than its offset from the due date and the schedule's minimum
gap after the last one. Weekends and holidays may move it by a day or two, so the
portal says "around".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.dunning import engine
from portal.models import Debtor, Invoice, InvoiceKind, InvoiceReminder, InvoiceStatus


@dataclass(frozen=True)
class Next:
    """One invoice's situation in a few words' worth of data (the template words it)."""

    hold: str = ""  # plan, dispute, promise or "" (reminders run)
    hold_until: dt.date | None = None
    last_kind: str = ""  # the kind of the last step sent (reminder, notice, ...)
    last_sent: dt.date | None = None
    next_kind: str = ""  # the next step's kind, "" when the schedule has no more
    next_on: dt.date | None = None


def for_invoices(
    session: Session, debtor: Debtor, invoices: Sequence[Invoice], today: dt.date
) -> dict[int, Next]:
    """What comes next for each open invoice among `invoices` (one query for the steps)."""
    open_ones = [
        i
        for i in invoices
        if i.status == InvoiceStatus.OPEN.value and i.kind == InvoiceKind.INVOICE.value
    ]
    if not open_ones:
        return {}
    schedule = engine.schedule_for(session, debtor, with_steps=True)
    steps = {s.id: s for s in schedule.steps} if schedule else {}
    sent: dict[int, list[InvoiceReminder]] = {}
    for row in session.scalars(
        select(InvoiceReminder)
        .where(InvoiceReminder.invoice_id.in_([i.id for i in open_ones]))
        .order_by(InvoiceReminder.sent_on, InvoiceReminder.id)
    ):
        sent.setdefault(row.invoice_id, []).append(row)
    result = {}
    for invoice in open_ones:
        done = sent.get(invoice.id, [])
        last = done[-1] if done else None
        last_kind = steps[last.step_id].kind if last and last.step_id in steps else ""
        base = Next(
            last_kind=last_kind or ("reminder" if last else ""),
            last_sent=last.sent_on if last else None,
        )
        if invoice.hold_reason and invoice.held_on(today):
            result[invoice.id] = Next(
                invoice.hold_reason, invoice.hold_until, base.last_kind, base.last_sent
            )
            continue
        done_ids = {r.step_id for r in done}
        upcoming = [
            s
            for s in (schedule.steps if schedule else [])
            if s.id not in done_ids
            and (s.offset_days >= 0 or invoice.due_date >= today)
            and invoice.open_cents >= s.min_open_cents
        ]
        if not upcoming or schedule is None or debtor.do_not_contact:
            result[invoice.id] = base
            continue
        step = upcoming[0]
        when = invoice.due_date + dt.timedelta(days=step.offset_days)
        if last is not None:
            when = max(when, last.sent_on + dt.timedelta(days=schedule.min_gap_days))
        result[invoice.id] = Next(
            "", None, base.last_kind, base.last_sent, step.kind, max(when, today)
        )
    return result
