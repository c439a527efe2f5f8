"""Collection costs and interest become debt once a 14-day letter's period has passed.

The letter announced the costs (WIK over the combined principal, or the Belgian capped
compensation) and a last day to pay. From the day after that, while its invoices are still
open, the run adds one cost line over the principal then open, and for Dutch letters one
line of statutory interest up to that day. Both are invoices of their own kind, so the
portal shows them, later reminders and pay-links include them, and a payment settles them
first (art. 6:44 BW). Their numbers carry the letter's message id, and the unique
(brand, number) key makes a second run add nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import String, and_, cast, exists, select
from sqlalchemy.orm import Session, aliased

from portal.domain import audit
from portal.domain.dunning import interest
from portal.domain.dunning.fees import belgian_b2c, wik
from portal.domain.messaging import letters
from portal.models import (
    Invoice,
    InvoiceKind,
    InvoiceReminder,
    InvoiceStatus,
    OutboxMessage,
    PrintBatch,
    PrintedLetter,
    ReminderStep,
)

log = logging.getLogger(__name__)
DEADLINE_DAYS = 15  # as engine.FOURTEEN_DAYS_SAFE: 14 days from the day after sending
COSTS_PREFIX = "COSTS-"
INTEREST_PREFIX = "INTEREST-"


@dataclass
class ChargeResult:
    letters: int = 0
    costs_cents: int = 0
    interest_cents: int = 0
    missing_rates: set[tuple[str, dt.date]] = field(default_factory=set)


@dataclass
class _Letter:
    step: ReminderStep
    sent_on: dt.date
    channel: str
    printed_on: dt.date | None  # a posted letter's print day (None until printed)
    invoice_ids: list[int] = field(default_factory=list)

    def deadline_passed(self, day: dt.date) -> bool:
        """A mailed letter's period runs from sending (the query checked that); a posted
        one from the day it was printed, so it has not started while it waits."""
        if self.channel != "letter":
            return True
        return self.printed_on is not None and letters.deadline(self.printed_on) < day


def _lapsed_letters(session: Session, day: dt.date) -> dict[int, _Letter]:
    """Letter message id → the letter, for letters sent long enough ago whose cost line does
    not exist yet (one query, with the channel and any print day)."""
    line = aliased(Invoice)
    rows = session.execute(
        select(
            InvoiceReminder.message_id,
            InvoiceReminder.invoice_id,
            InvoiceReminder.sent_on,
            ReminderStep,
            OutboxMessage.channel,
            PrintBatch.printed_on,
        )
        .join(ReminderStep, ReminderStep.id == InvoiceReminder.step_id)
        .join(OutboxMessage, OutboxMessage.id == InvoiceReminder.message_id)
        .outerjoin(PrintedLetter, PrintedLetter.message_id == InvoiceReminder.message_id)
        .outerjoin(PrintBatch, PrintBatch.id == PrintedLetter.batch_id)
        .where(
            ReminderStep.kind == "fourteen_day",
            ReminderStep.fee_rule != "none",
            InvoiceReminder.sent_on < day - dt.timedelta(days=DEADLINE_DAYS),
            ~exists().where(
                and_(
                    line.kind == InvoiceKind.COSTS.value,
                    line.number == COSTS_PREFIX + cast(InvoiceReminder.message_id, String),
                )
            ),
        )
        .order_by(InvoiceReminder.message_id, InvoiceReminder.invoice_id)
    )
    found: dict[int, _Letter] = {}
    for message_id, invoice_id, sent_on, step, channel, printed_on in rows:
        if message_id is None:  # never: the join to the outbox needs one
            continue
        letter = found.setdefault(message_id, _Letter(step, sent_on, channel, printed_on))
        letter.invoice_ids.append(invoice_id)
    return found


def add_lapsed(session: Session, day: dt.date) -> ChargeResult:
    """Add the cost and interest lines of every letter whose period passed before `day`."""
    result = ChargeResult()
    tables: dict[str, dict[dt.date, int]] = {}
    for message_id, letter in _lapsed_letters(session, day).items():
        if not letter.deadline_passed(day):
            continue
        step, invoice_ids, sent_on = letter.step, letter.invoice_ids, letter.sent_on
        invoices = list(
            session.scalars(
                select(Invoice)
                .where(
                    Invoice.id.in_(invoice_ids),
                    Invoice.status == InvoiceStatus.OPEN.value,
                    Invoice.open_cents > 0,
                )
                .order_by(Invoice.due_date, Invoice.id)
            )
        )
        open_now = [i for i in invoices if not i.held_on(day)]
        if not open_now or len(open_now) != len(invoices):
            continue  # all paid, or some are disputed or in a plan: nothing, or not yet
        principal = sum(i.open_cents for i in open_now)
        costs = wik(principal) if step.fee_rule == "wik" else belgian_b2c(principal)
        first = open_now[0]
        _add_line(
            session,
            first,
            InvoiceKind.COSTS,
            f"{COSTS_PREFIX}{message_id}",
            costs,
            day,
            open_now,
            sent_on,
        )
        result.letters += 1
        result.costs_cents += costs
        if step.fee_rule == "wik":
            kind = interest.rate_kind(first.debtor.kind)
            table = tables.setdefault(kind, interest.rates(session, kind))
            try:
                owed = sum(
                    interest.statutory_interest(i.open_cents, i.due_date, day, table, kind)
                    for i in open_now
                )
            except interest.MissingRate as exc:
                result.missing_rates.add((exc.kind, exc.half_year))
                log.warning("letter %s: no interest added: %s", message_id, exc)
                owed = 0
            if owed > 0:
                _add_line(
                    session,
                    first,
                    InvoiceKind.INTEREST,
                    f"{INTEREST_PREFIX}{message_id}",
                    owed,
                    day,
                    open_now,
                    sent_on,
                )
                result.interest_cents += owed
        session.flush()
    return result


def _add_line(
    session: Session,
    first: Invoice,
    kind: InvoiceKind,
    number: str,
    cents: int,
    day: dt.date,
    invoices: list[Invoice],
    sent_on: dt.date,
) -> None:
    numbers = ", ".join(i.number for i in invoices)
    session.add(
        Invoice(
            brand_id=first.brand_id,
            debtor_id=first.debtor_id,
            number=number,
            kind=kind.value,
            invoice_date=day,
            due_date=day,
            currency=first.currency,
            total_cents=cents,
            open_cents=cents,
            reference=numbers[:80],
            description=sent_on.isoformat(),  # the letter's day, shown with the line
        )
    )
    audit.record_each(
        session,
        "system",
        f"dunning.{kind.value}_added",
        first.debtor_id,
        [i.id for i in invoices],
        amount_cents=cents,
        currency=first.currency,
        line=number,
    )


def open_charges(session: Session, debtor_id: int) -> list[Invoice]:
    """The debtor's open cost and interest lines, oldest first."""
    return open_charges_of(session, {debtor_id}).get(debtor_id, [])


def open_charges_of(session: Session, debtor_ids: set[int]) -> dict[int, list[Invoice]]:
    """Open cost and interest lines of several debtors, oldest first, in one query."""
    found: dict[int, list[Invoice]] = {}
    for line in session.scalars(
        select(Invoice)
        .where(
            Invoice.debtor_id.in_(debtor_ids),
            Invoice.kind.in_((InvoiceKind.COSTS.value, InvoiceKind.INTEREST.value)),
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.open_cents > 0,
        )
        .order_by(Invoice.due_date, Invoice.id)
    ):
        found.setdefault(line.debtor_id, []).append(line)
    return found
