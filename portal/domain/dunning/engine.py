"""The daily dunning run: which open invoices reached which reminder step today.

`due_steps` decides in one SQL statement (no Python loop over invoices): for every open,
unheld invoice of a contactable debtor it finds the *next* step of its schedule not yet
done, and keeps it when the step's day has come and the schedule's minimum gap since the
last step has passed. So a missed run catches up one step at a time, and a consumer never
gets a 14-dagenbrief before an earlier reminder (DESIGN.md section 9).

`run` groups the result by debtor and step (one message per channel of the step lists
all their invoices at that step: an email, an SMS, a letter) and records each (invoice,
step) in `invoice_reminder`, whose unique key is the guard: a second run, an overlapping
run, or a run killed halfway never sends a step twice. The outbox's dedupe key, one per
channel, guards each message once more.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Date, and_, case, delete, exists, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased, joinedload, selectinload
from sqlalchemy.sql.expression import FunctionElement

from portal.domain import audit, bulk, phones
from portal.domain.dunning import charges, terms
from portal.domain.messaging import outbox
from portal.models import (
    AuditEvent,
    Brand,
    Claim,
    ClaimInvoice,
    ClaimMessage,
    Debtor,
    Invoice,
    InvoiceKind,
    InvoiceReminder,
    InvoiceStatus,
    OutboxMessage,
    ReminderSchedule,
    ReminderStep,
    RunPreview,
    Segment,
)

log = logging.getLogger(__name__)


class add_days(FunctionElement[dt.date]):
    """`date + n days` in SQL, for PostgreSQL and SQLite alike."""

    type = Date()
    inherit_cache = True


@compiles(add_days)
def _add_days_default(element: Any, compiler: Any, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"({compiler.process(day, **kw)} + {compiler.process(days, **kw)})"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, ({compiler.process(days, **kw)}) || ' days')"


@dataclass(frozen=True)
class Due:
    invoice_id: int
    debtor_id: int
    step_id: int


def _schedule_of_debtor() -> Any:
    """The debtor's schedule: its segment's, else the default for its kind and country."""
    default = (
        select(ReminderSchedule.id)
        .where(
            ReminderSchedule.default_for == Debtor.kind,
            or_(
                ReminderSchedule.default_country == Debtor.country,
                ReminderSchedule.default_country.is_(None),
            ),
        )
        .order_by(ReminderSchedule.default_country.is_(None), ReminderSchedule.id)
        .limit(1)
        .correlate(Debtor)
        .scalar_subquery()
    )
    return func.coalesce(Segment.schedule_id, default)


def due_steps(session: Session, day: dt.date) -> list[Due]:
    """Every (invoice, next step) whose time has come on `day`, in one query."""
    schedule_id = _schedule_of_debtor()
    step = aliased(ReminderStep)
    other = aliased(ReminderStep)
    done = aliased(InvoiceReminder)
    next_position = (
        select(func.min(other.position))
        .where(
            other.schedule_id == schedule_id,
            # explicit: a subquery two levels down does not find the invoice by itself
            ~exists()
            .where(done.invoice_id == Invoice.id, done.step_id == other.id)
            .correlate(Invoice, other),
            # a step before the due date is no use once the invoice is overdue
            or_(other.offset_days >= 0, Invoice.due_date >= day),
        )
        .correlate(Invoice, Debtor, Segment)
        .scalar_subquery()
    )
    recent = aliased(InvoiceReminder)
    query = (
        select(Invoice.id, Invoice.debtor_id, step.id)
        .join(Debtor, Debtor.id == Invoice.debtor_id)
        .outerjoin(Segment, Segment.id == Debtor.segment_id)
        .join(step, and_(step.schedule_id == schedule_id, step.position == next_position))
        .join(ReminderSchedule, ReminderSchedule.id == step.schedule_id)
        .where(
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.kind == InvoiceKind.INVOICE.value,
            Invoice.open_cents > 0,
            Invoice.open_cents >= step.min_open_cents,
            Debtor.do_not_contact.is_(False),
            ~Invoice.held_on(day),
            add_days(Invoice.due_date, step.offset_days) <= day,
            ~exists().where(
                recent.invoice_id == Invoice.id,
                recent.sent_on > add_days(literal(day, Date()), -ReminderSchedule.min_gap_days),
            ),
        )
        .order_by(Invoice.debtor_id, step.id, Invoice.due_date, Invoice.id)
    )
    if day.weekday() >= 5:  # the weekend: schedules on business days wait for Monday
        query = query.where(ReminderSchedule.business_days_only.is_(False))
    elif closed := terms.holiday_calendars(day):  # a public holiday where the debtor lives
        calendar = case((Debtor.country.in_(terms.CALENDARS), Debtor.country), else_=Brand.country)
        query = query.join(Brand, Brand.id == Debtor.brand_id).where(
            or_(ReminderSchedule.business_days_only.is_(False), calendar.not_in(closed))
        )
    return [Due(*row) for row in session.execute(query)]


def reachable(debtor: Debtor, channel: str) -> bool:
    """Whether `channel` can reach the debtor: an email address, a phone number in E.164,
    a postal address (street, postcode and city)."""
    if channel == "email":
        return bool(debtor.primary_email)
    if channel == "sms":
        return bool(debtor.phone) and phones.is_e164(debtor.phone)
    if channel == "letter":
        return all(v.strip() for v in (debtor.address_line, debtor.postcode, debtor.city))
    return False


MISSING = {"email": "no_email", "sms": "no_phone", "letter": "no_postal_address"}


def dedupe_key(step_id: int, invoice_ids: Sequence[int], channel: str) -> str:
    """The outbox key of a step's message on one channel (the email keeps the old form)."""
    ids = ",".join(str(i) for i in sorted(invoice_ids))
    key = f"reminder:{step_id}:{ids}"
    if len(key) > 180:  # many invoices: a digest, so the channel suffix is never cut off
        key = f"reminder:{step_id}:sha256:{hashlib.sha256(ids.encode()).hexdigest()}"
    return key if channel == "email" else f"{key}:{channel}"


class ReminderMailer(Protocol):
    """Writes one reminder to the outbox (the app renders it in the debtor's language)."""

    def reminder(
        self,
        session: Session,
        debtor: Debtor,
        step: ReminderStep,
        invoices: Sequence[Invoice],
        costs_cents: int,
        dedupe_key: str,
        channel: str = "email",
    ) -> OutboxMessage | None:
        """Add it to the session on `channel` (not flushed), or None when the debtor cannot
        be reached that way. Its pay-link and the deadline it states are made when the
        message is written (sent, or printed), from that day (`terms.deadline`)."""
        ...


@dataclass
class RunResult:
    """What a run did, or (dry run) would do."""

    day: dt.date
    messages: int = 0
    invoices: int = 0
    flagged: int = 0  # steps that send nothing: ready for collection, or a call task
    skipped: int = 0  # groups another run did first, or debtors no channel of the step reaches
    by_kind: Counter[str] = field(default_factory=Counter)


def costs(debtor: Debtor, step: ReminderStep, invoices: Sequence[Invoice]) -> int:
    """The collection costs a step announces to this debtor, once over the combined
    principal of its invoices (0: it announces none); the law's answer is `terms`'."""
    regime = terms.regime_of(debtor)
    if not terms.announces_costs(regime, step.kind, step.fee_rule):
        return 0
    return terms.costs(regime, sum(i.open_cents for i in invoices), len(invoices))


CHUNK = 500  # groups per transaction: a crash loses at most a chunk, never sends twice


def run(
    session: Session,
    day: dt.date,
    mailer: ReminderMailer | None,
    *,
    dry_run: bool = False,
    timezone: str = terms.DEFAULT_TZ,
) -> RunResult:
    """Send every due step: one message per debtor, step and channel.

    First the open claims book what has become due (`charges.book`). Groups are written in
    chunks, each chunk one transaction with what it needs loaded up front. When an
    overlapping run recorded some (invoice, step) first, the unique key refuses the chunk,
    and it is written again group by group, skipping those.
    """
    if not dry_run:
        charges.book(session, day, timezone)  # every deadline told has passed: costs, interest
        session.commit()
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for due in due_steps(session, day):
        groups[(due.debtor_id, due.step_id)].append(due.invoice_id)
    result = RunResult(day)
    steps = {
        s.id: s
        for s in session.scalars(select(ReminderStep).options(joinedload(ReminderStep.schedule)))
    }
    if dry_run:
        for (_debtor, step_id), invoice_ids in groups.items():
            result.by_kind[steps[step_id].kind] += 1
            result.invoices += len(invoice_ids)
        return result
    items = list(groups.items())
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        try:
            outcomes = _write_chunk(session, day, mailer, steps, chunk)
            session.commit()
        except IntegrityError:  # an overlapping run was here first: one group at a time
            session.rollback()
            outcomes = [_write_one(session, day, mailer, steps, key, ids) for key, ids in chunk]
        for step, invoice_ids, sent in outcomes:
            _count(result, step, invoice_ids, sent)
    return result


Outcome = tuple[ReminderStep, list[int], int | None]


def _write_one(
    session: Session,
    day: dt.date,
    mailer: ReminderMailer | None,
    steps: dict[int, ReminderStep],
    key: tuple[int, int],
    invoice_ids: list[int],
) -> Outcome:
    debtor_id, step_id = key
    try:
        sent = _send_group(session, day, mailer, debtor_id, steps[step_id], invoice_ids)
        session.commit()
    except IntegrityError:
        session.rollback()
        sent = None
    return steps[step_id], invoice_ids, sent


def _count(result: RunResult, step: ReminderStep, invoice_ids: list[int], sent: int | None) -> None:
    if sent is None:
        result.skipped += 1
        return
    result.by_kind[step.kind] += 1
    result.invoices += len(invoice_ids)
    result.messages += sent
    result.flagged += int(not sent)


def _write_chunk(
    session: Session,
    day: dt.date,
    mailer: ReminderMailer | None,
    steps: dict[int, ReminderStep],
    chunk: list[tuple[tuple[int, int], list[int]]],
) -> list[Outcome]:
    """Queue every group of the chunk (the caller commits), loading in four queries."""
    debtor_ids = {debtor_id for (debtor_id, _step), _ids in chunk}
    invoice_ids = [i for _key, ids in chunk for i in ids]
    invoices = {
        i.id: i for i in session.scalars(select(Invoice).where(Invoice.id.in_(invoice_ids)))
    }
    debtors = {
        d.id: d
        for d in session.scalars(
            select(Debtor)
            .where(Debtor.id.in_(debtor_ids))
            .options(selectinload(Debtor.emails), joinedload(Debtor.brand))
        )
    }
    extra = charges.open_charges_of(session, debtor_ids)
    outcomes = []
    rows = _Rows()
    for (debtor_id, step_id), ids in chunk:
        group = sorted((invoices[i] for i in ids), key=lambda i: (i.due_date, i.id))
        step = steps[step_id]
        sent = _queue_group(
            session, day, mailer, debtors[debtor_id], step, group, extra.get(debtor_id, []), rows
        )
        outcomes.append((step, ids, sent))
    rows.write(session)
    return outcomes


@dataclass
class _Rows:
    """What a chunk records besides its outbox rows, written in two bulk statements once
    the outbox rows have their ids (the ORM's unit of work is the slow part here)."""

    messages: list[OutboxMessage] = field(default_factory=list)
    reminders: list[tuple[dict[str, Any], OutboxMessage | None]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    # a step that announced costs opens a claim: (claim row, its messages, its invoice ids)
    claims: list[tuple[dict[str, Any], list[OutboxMessage], list[int]]] = field(
        default_factory=list
    )

    def write(self, session: Session) -> None:
        """Outbox rows first (their ids found again by their unique dedupe keys), then the
        (invoice, step) records that point at them, then the audit events."""
        for message in self.messages:
            session.expunge(message)
        bulk.insert_rows(session, OutboxMessage, (outbox.row_of(m) for m in self.messages))
        keys = [m.dedupe_key for m in self.messages]
        ids: dict[str | None, int] = {}
        for start in range(0, len(keys), 1000):
            found = session.execute(
                select(OutboxMessage.dedupe_key, OutboxMessage.id).where(
                    OutboxMessage.dedupe_key.in_(keys[start : start + 1000])
                )
            )
            ids.update((key, message_id) for key, message_id in found)
        bulk.insert_rows(
            session,
            InvoiceReminder,
            ({**row, "message_id": ids[m.dedupe_key] if m else None} for row, m in self.reminders),
        )
        bulk.insert_rows(session, AuditEvent, self.events)
        if self.claims:
            self._write_claims(session, ids)

    def _write_claims(self, session: Session, ids: dict[str | None, int]) -> None:
        leads = {
            ids[messages[0].dedupe_key]: (messages, invoice_ids)
            for _row, messages, invoice_ids in self.claims
        }
        bulk.insert_rows(
            session,
            Claim,
            (
                {**row, "lead_message_id": ids[messages[0].dedupe_key]}
                for row, messages, _ids in self.claims
            ),
        )
        found = session.execute(
            select(Claim.lead_message_id, Claim.id).where(Claim.lead_message_id.in_(list(leads)))
        )
        claim_ids = {lead: claim_id for lead, claim_id in found}
        bulk.insert_rows(
            session,
            ClaimInvoice,
            (
                {"claim_id": claim_ids[lead], "invoice_id": invoice_id}
                for lead, (_messages, invoice_ids) in leads.items()
                for invoice_id in invoice_ids
            ),
        )
        bulk.insert_rows(
            session,
            ClaimMessage,
            (
                {"claim_id": claim_ids[lead], "message_id": ids[m.dedupe_key]}
                for lead, (messages, _ids) in leads.items()
                for m in messages
            ),
        )


def _send_group(
    session: Session,
    day: dt.date,
    mailer: ReminderMailer | None,
    debtor_id: int,
    step: ReminderStep,
    invoice_ids: list[int],
) -> int | None:
    """Load one group and queue it (the caller commits); see `_queue_group`."""
    invoices = list(
        session.scalars(
            select(Invoice)
            .where(Invoice.id.in_(invoice_ids))
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
    debtor = session.get_one(Debtor, debtor_id)
    rows = _Rows()
    sent = _queue_group(
        session, day, mailer, debtor, step, invoices, charges.open_charges(session, debtor_id), rows
    )
    rows.write(session)
    return sent


def _queue_group(
    session: Session,
    day: dt.date,
    mailer: ReminderMailer | None,
    debtor: Debtor,
    step: ReminderStep,
    invoices: list[Invoice],
    extra: list[Invoice],
    rows: _Rows,
) -> int | None:
    """How many messages were queued (one per channel that reaches the debtor; 0 for a
    marking step), or None when no channel of the step reaches the debtor.

    `extra` are the debtor's open cost and interest lines: listed in the message and paid
    through the same pay-link.
    """
    invoice_ids = [i.id for i in invoices]
    messages: list[OutboxMessage] = []
    sent_by: list[str] = []
    skipped: dict[str, str] = {}
    details: dict[str, Any] = {}
    if step.kind == terms.CALL_KIND:  # no message: a task for the team, once per group
        from portal.domain.worklist import calls  # (the work queue reaches back to dunning)

        task = calls.call_task(session, day, debtor, step, invoice_ids)
        details = {"task": task.id if task is not None else None}
    elif step.kind != "collection":
        if mailer is None:
            return None
        channels = step.channel_list
        skipped = {c: MISSING[c] for c in channels if not reachable(debtor, c)}
        if len(skipped) == len(channels):
            return None
        lines = [*invoices, *extra]
        announced = costs(debtor, step, invoices)
        for channel in channels:
            if channel in skipped:
                continue
            message = mailer.reminder(
                session,
                debtor,
                step,
                lines,
                announced,
                dedupe_key(step.id, invoice_ids, channel),
                channel=channel,
            )
            if message is None:
                skipped[channel] = MISSING[channel]
            else:
                messages.append(message)
                sent_by.append(channel)
        if not messages:
            return None
        if announced:
            claim = {
                "debtor_id": debtor.id,
                "brand_id": debtor.brand_id,
                "step_id": step.id,
                "regime": terms.regime_of(debtor),
                "opened_on": day,
                "interest_lines": 0,
                "waiting_for_rate": "",
                "undelivered": False,
                "closed": False,
            }
            rows.claims.append((claim, messages, invoice_ids))
    rows.messages.extend(messages)
    first = messages[0] if messages else None
    rows.reminders.extend(
        ({"invoice_id": i.id, "step_id": step.id, "sent_on": day}, first) for i in invoices
    )
    if messages:
        details = {"channel": sent_by[0], "channels": sent_by, "skipped": skipped}
        action = "reminder.sent"
    elif step.kind == terms.CALL_KIND:
        action = "dunning.call_task"
    else:
        action = "dunning.ready_for_collection"
    rows.events.extend(
        audit.rows_each("system", action, debtor.id, invoice_ids, step=step.kind, **details)
    )
    return len(messages)


@dataclass
class Preview:
    """What a day's run would do: groups per step kind, and messages per channel."""

    by_kind: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)


PREVIEW_CHUNK = 10_000  # debtors per query (PostgreSQL takes at most 65,535 parameters)


def preview(session: Session, day: dt.date) -> Preview:
    """What the run of `day` would send: one group per debtor and step; a message per
    channel of the step that reaches the debtor."""
    groups = {(d.debtor_id, d.step_id) for d in due_steps(session, day)}
    steps = {s.id: s for s in session.scalars(select(ReminderStep))}
    wanted = sorted({debtor_id for debtor_id, _step in groups})
    debtors: dict[int, Debtor] = {}
    for start in range(0, len(wanted), PREVIEW_CHUNK):  # a database takes so many parameters
        chunk = wanted[start : start + PREVIEW_CHUNK]
        debtors.update(
            (d.id, d)
            for d in session.scalars(
                select(Debtor).where(Debtor.id.in_(chunk)).options(selectinload(Debtor.emails))
            )
        )
    result = Preview()
    for debtor_id, step_id in groups:
        step = steps[step_id]
        result.by_kind[step.kind] += 1
        if terms.sends_message(step.kind):
            result.by_channel.update(
                c for c in step.channel_list if reachable(debtors[debtor_id], c)
            )
    return result


@dataclass
class Counted:
    """A stored preview and when it was counted."""

    preview: Preview
    computed_at: dt.datetime


def count_and_store(session: Session, day: dt.date, now: dt.datetime) -> Counted:
    """Count the run of `day` and keep the figures (the caller commits)."""
    result = preview(session, day)
    row = session.get(RunPreview, day) or RunPreview(day=day)
    row.by_kind, row.by_channel = dict(result.by_kind), dict(result.by_channel)
    row.computed_at = now
    session.add(row)
    session.execute(delete(RunPreview).where(RunPreview.day < day))
    return Counted(result, now)


def stored_preview(session: Session, day: dt.date) -> Counted | None:
    """The figures last counted for the run of `day`, or None."""
    row = session.get(RunPreview, day)
    if row is None:
        return None
    counted = Preview(Counter(row.by_kind), Counter(row.by_channel))
    return Counted(counted, row.computed_at)


@dataclass(frozen=True)
class StepDone:
    """A step an invoice has had, with what became of its message (None: recorded without
    one, e.g. an import's "last reminder step sent")."""

    kind: str
    sent_on: dt.date
    channel: str | None
    status: str | None


def steps_done(session: Session, invoice_id: int) -> list[StepDone]:
    """The steps recorded for an invoice (the run's own guard rows), oldest first."""
    rows = session.execute(
        select(
            ReminderStep.kind, InvoiceReminder.sent_on, OutboxMessage.channel, OutboxMessage.status
        )
        .join(InvoiceReminder, InvoiceReminder.step_id == ReminderStep.id)
        .outerjoin(OutboxMessage, OutboxMessage.id == InvoiceReminder.message_id)
        .where(InvoiceReminder.invoice_id == invoice_id)
        .order_by(InvoiceReminder.sent_on, ReminderStep.offset_days)
    )
    return [StepDone(r.kind, r.sent_on, r.channel, r.status) for r in rows]


def schedule_for(
    session: Session, debtor: Debtor, with_steps: bool = False
) -> ReminderSchedule | None:
    """The schedule a debtor follows: the very rule the daily query applies (`with_steps`:
    its steps loaded in the same query)."""
    schedule_id = (
        select(_schedule_of_debtor())
        .select_from(Debtor)
        .outerjoin(Segment, Segment.id == Debtor.segment_id)
        .where(Debtor.id == debtor.id)
        .scalar_subquery()
    )
    query = select(ReminderSchedule).where(ReminderSchedule.id == schedule_id)
    if with_steps:
        query = query.options(joinedload(ReminderSchedule.steps))
    return session.scalars(query).unique().first()


class SendRefused(ValueError):
    """A step cannot be sent by hand; `reason` is a code for the page. `overridable`
    refusals are the run's own rules, which an admin may set aside with a reason."""

    def __init__(self, reason: str, overridable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.overridable = overridable


def check_send_now(
    session: Session, invoice: Invoice, step: ReminderStep, schedule: ReminderSchedule, day: dt.date
) -> str | None:
    """The rule of the daily run that sending `step` today would break, or None: the
    order of the steps, the schedule's minimum gap, holds (a dispute, a promise, a plan)
    and a debtor marked do-not-contact, and a consumer's first message being a 14-day
    letter (DESIGN.md section 9)."""
    if invoice.debtor.do_not_contact:
        return "do_not_contact"
    if invoice.held_on(day):
        return "dispute" if invoice.hold_reason == "dispute" else "held"
    done = dict(
        session.execute(
            select(InvoiceReminder.step_id, InvoiceReminder.sent_on).where(
                InvoiceReminder.invoice_id == invoice.id
            )
        ).all()
    )
    earlier = [s for s in schedule.steps if s.position < step.position]
    sent_kinds = {s.kind for s in schedule.steps if s.id in done}
    if (
        step.kind == "fourteen_day"
        and invoice.debtor.kind != "b2b"
        and not sent_kinds & {"reminder", "notice"}
    ):
        return "no_earlier_reminder"
    overdue = invoice.due_date < day
    skipped = [s for s in earlier if s.id not in done and not (overdue and s.offset_days < 0)]
    if skipped:
        return "out_of_order"
    if done and max(done.values()) > day - dt.timedelta(days=schedule.min_gap_days):
        return "too_soon"
    return None


def send_now(
    session: Session,
    invoice: Invoice,
    step_id: int,
    mailer: ReminderMailer,
    day: dt.date,
    actor: str,
    override: str = "",
) -> None:
    """An admin sends one step of the invoice's schedule today (the caller commits).

    It obeys the rules of the run (`check_send_now`) unless the admin gives a reason to
    set them aside (`override`), which is audited and shown on the invoice's timeline.
    The same (invoice, step) guard applies: a step already sent is refused, not repeated.
    """
    if invoice.status != InvoiceStatus.OPEN.value or invoice.open_cents <= 0:
        raise SendRefused("not_open")
    schedule = schedule_for(session, invoice.debtor)
    step = session.get(ReminderStep, step_id)
    if schedule is None or step is None or step.schedule_id != schedule.id:
        raise SendRefused("unknown_step")
    done = session.scalar(
        select(InvoiceReminder.id).where(
            InvoiceReminder.invoice_id == invoice.id, InvoiceReminder.step_id == step.id
        )
    )
    if done is not None:
        raise SendRefused("already_sent")
    broken = check_send_now(session, invoice, step, schedule, day)
    override = override.strip()[:500]
    if broken is not None and not override:
        raise SendRefused(broken, overridable=True)
    sent = _send_group(session, day, mailer, invoice.debtor_id, step, [invoice.id])
    if sent is None:
        raise SendRefused("no_address")
    details: dict[str, Any] = {"step": step.kind}
    if broken is not None:
        details.update(override=override, rule=broken)
    audit.record(
        session,
        actor,
        "admin.step_overridden" if broken is not None else "admin.step_sent",
        debtor_id=invoice.debtor_id,
        invoice_id=invoice.id,
        **details,
    )


def resend_by_post(
    session: Session, claim: Claim, mailer: ReminderMailer, day: dt.date, actor: str
) -> OutboxMessage:
    """Send the step of a claim whose messages all bounced again, as a letter (the caller
    commits). Its deadline is counted from the day it is printed, and the claim books
    nothing until that has passed."""
    if claim.closed or not claim.undelivered:
        raise SendRefused("delivered")
    debtor = claim.debtor
    if not reachable(debtor, "letter"):
        raise SendRefused("no_postal_address")
    invoices = list(
        session.scalars(
            select(Invoice)
            .join(ClaimInvoice, ClaimInvoice.invoice_id == Invoice.id)
            .where(
                ClaimInvoice.claim_id == claim.id,
                Invoice.status == InvoiceStatus.OPEN.value,
                Invoice.open_cents > 0,
            )
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
    if not invoices:
        raise SendRefused("not_open")
    sent = session.scalar(
        select(func.count()).select_from(ClaimMessage).where(ClaimMessage.claim_id == claim.id)
    )
    message = mailer.reminder(
        session,
        debtor,
        claim.step,
        [*invoices, *charges.open_charges(session, debtor.id)],
        costs(debtor, claim.step, invoices),
        f"claim:{claim.id}:post:{sent}",
        channel="letter",
    )
    if message is None:
        raise SendRefused("no_postal_address")
    session.flush()
    session.add(ClaimMessage(claim_id=claim.id, message_id=message.id))
    claim.undelivered = False
    audit.record_each(
        session,
        actor,
        "admin.letter_resent",
        debtor.id,
        [i.id for i in invoices],
        claim=claim.id,
        step=claim.step.kind,
    )
    return message
