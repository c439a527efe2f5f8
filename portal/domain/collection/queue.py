"""The collection queue: invoices whose schedule reached its `collection` step (or that a
person put here) wait, grouped per debtor, until someone hands them to an agency, or the
segment's rule does so after N days.

The rule never hands over by itself an invoice that is disputed, promised or in a plan
(`blocked`): those wait for a person, as does anything a person stopped. `sweep` is the
daily work (the worker's periodic task): new entries from the schedule, entries that left
(paid, credited, cancelled), then the automatic hand-overs.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, case, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from portal.domain import audit
from portal.domain.collection.models import (
    ENTRY_MOVES,
    Agency,
    CollectionEntry,
    CollectionRule,
    EntryState,
)
from portal.domain.problems import N_, Problem
from portal.models import (
    Debtor,
    DebtorRating,
    DebtorRequest,
    InstalmentPlan,
    Invoice,
    InvoiceKind,
    InvoiceReminder,
    InvoiceStatus,
    PlanInvoice,
    PlanStatus,
    ReminderStep,
    RequestKind,
    RequestState,
    Segment,
    utcnow,
)

IN_QUEUE = (EntryState.WAITING.value, EntryState.STOPPED.value)
OPEN_REQUEST = (RequestState.OPEN.value, RequestState.ANSWERED.value)
RUNNING_PLAN = (PlanStatus.PROPOSED.value, PlanStatus.ACTIVE.value)
PAGE_SIZE = 50


class QueueRefused(Problem):
    """A queue action that cannot be done; the message says why."""


# ------------------------------------------------------------------- what blocks
def disputed() -> ColumnElement[bool]:
    """The invoice is disputed: held for a dispute, or a dispute about it is open."""
    return or_(
        Invoice.hold_reason == "dispute",
        exists().where(
            DebtorRequest.invoice_id == Invoice.id,
            DebtorRequest.kind == RequestKind.DISPUTE.value,
            DebtorRequest.state.in_(OPEN_REQUEST),
        ),
    )


def promised(day: dt.date) -> ColumnElement[bool]:
    """The debtor promised to pay the invoice by a day that has not passed."""
    return or_(
        and_(
            Invoice.hold_reason == "promise",
            or_(Invoice.hold_until.is_(None), Invoice.hold_until >= day),
        ),
        exists().where(
            DebtorRequest.invoice_id == Invoice.id,
            DebtorRequest.kind == RequestKind.PROMISE.value,
            DebtorRequest.state.in_(OPEN_REQUEST),
            DebtorRequest.promise_date >= day,
        ),
    )


def planned() -> ColumnElement[bool]:
    """The invoice is in a proposed or running payment plan."""
    return or_(
        Invoice.hold_reason == "plan",
        exists().where(
            PlanInvoice.invoice_id == Invoice.id,
            PlanInvoice.plan_id == InstalmentPlan.id,
            InstalmentPlan.status.in_(RUNNING_PLAN),
        ),
    )


def blocked(day: dt.date) -> ColumnElement[bool]:
    """What the automatic rule never hands over."""
    return or_(disputed(), promised(day), planned())


# ------------------------------------------------------------------- entering and leaving
def enqueue_from_schedule(session: Session, day: dt.date) -> int:
    """Put every open invoice whose schedule reached its `collection` step in the queue
    (once: the unique invoice id); returns how many entered."""
    reached = (
        select(
            Invoice.id,
            Invoice.debtor_id,
            literal(EntryState.WAITING.value),
            literal("schedule"),
            func.min(InvoiceReminder.sent_on),
            literal("system"),
            literal(utcnow()),
        )
        .join(InvoiceReminder, InvoiceReminder.invoice_id == Invoice.id)
        .join(ReminderStep, ReminderStep.id == InvoiceReminder.step_id)
        .where(
            ReminderStep.kind == "collection",
            InvoiceReminder.sent_on <= day,
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.kind == InvoiceKind.INVOICE.value,
            Invoice.open_cents > 0,
            ~exists().where(CollectionEntry.invoice_id == Invoice.id),
        )
        .group_by(Invoice.id, Invoice.debtor_id)
    )
    entered = session.scalars(
        insert(CollectionEntry)
        .from_select(
            [
                "invoice_id",
                "debtor_id",
                "state",
                "source",
                "entered_on",
                "changed_by",
                "changed_at",
            ],
            reached,
        )
        .returning(CollectionEntry.id)  # psycopg reports no row count for INSERT ... SELECT
    ).all()
    return len(entered)


def mark(session: Session, invoice: Invoice, actor: str, day: dt.date) -> CollectionEntry:
    """Put an invoice in the queue by hand (it waits like one the schedule brought)."""
    if (
        invoice.kind != InvoiceKind.INVOICE.value
        or invoice.status != InvoiceStatus.OPEN.value
        or invoice.open_cents <= 0
    ):
        raise QueueRefused(N_("Only an open invoice can wait for collection."))
    entry = session.scalar(select(CollectionEntry).where(CollectionEntry.invoice_id == invoice.id))
    if entry is not None and entry.state in IN_QUEUE:
        return entry
    if entry is None:
        entry = CollectionEntry(invoice_id=invoice.id, debtor_id=invoice.debtor_id)
        session.add(entry)
    if entry.state is not None:
        ENTRY_MOVES.check(entry.state, EntryState.WAITING)
    entry.state, entry.source, entry.entered_on = EntryState.WAITING.value, "hand", day
    entry.note, entry.changed_by, entry.changed_at, entry.handover_id = "", actor, utcnow(), None
    audit.record(
        session, actor, "collection.queued", debtor_id=invoice.debtor_id, invoice_id=invoice.id
    )
    session.flush()
    return entry


def tidy(session: Session) -> int:
    """Entries whose invoice is no longer open (paid, credited, cancelled) leave the queue."""
    gone = select(Invoice.id).where(
        or_(Invoice.status != InvoiceStatus.OPEN.value, Invoice.open_cents <= 0)
    )
    result = session.execute(
        update(CollectionEntry)
        .where(
            CollectionEntry.state.in_(ENTRY_MOVES.sources(EntryState.LEFT)),
            CollectionEntry.invoice_id.in_(gone),
        )
        .values(state=EntryState.LEFT.value, changed_at=utcnow(), changed_by="system")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _entries(
    session: Session, debtor_id: int, invoice_ids: Sequence[int] | None
) -> list[CollectionEntry]:
    query = select(CollectionEntry).where(
        CollectionEntry.debtor_id == debtor_id, CollectionEntry.state.in_(IN_QUEUE)
    )
    if invoice_ids is not None:
        query = query.where(CollectionEntry.invoice_id.in_(list(invoice_ids)))
    return list(session.scalars(query.order_by(CollectionEntry.invoice_id)))


def stop(session: Session, debtor_id: int, reason: str, actor: str) -> int:
    """A person stops the automatic hand-over of a debtor's waiting invoices (with a
    reason); they stay in the queue for a hand-over by hand."""
    if not reason.strip():
        raise QueueRefused(N_("Say why the hand-over stops."))
    entries = [e for e in _entries(session, debtor_id, None) if e.state == EntryState.WAITING]
    for entry in entries:
        ENTRY_MOVES.check(entry.state, EntryState.STOPPED)
        entry.state, entry.note = EntryState.STOPPED.value, reason.strip()
        entry.changed_by, entry.changed_at = actor, utcnow()
    audit.record_each(
        session,
        actor,
        "collection.stopped",
        debtor_id,
        [e.invoice_id for e in entries],
        reason=reason.strip(),
    )
    return len(entries)


def resume(session: Session, debtor_id: int, actor: str) -> int:
    """Let the segment's rule apply again to a debtor's stopped invoices."""
    entries = [e for e in _entries(session, debtor_id, None) if e.state == EntryState.STOPPED]
    for entry in entries:
        ENTRY_MOVES.check(entry.state, EntryState.WAITING)
        entry.state, entry.note = EntryState.WAITING.value, ""
        entry.changed_by, entry.changed_at = actor, utcnow()
    audit.record_each(
        session, actor, "collection.resumed", debtor_id, [e.invoice_id for e in entries]
    )
    return len(entries)


def remove(session: Session, debtor_id: int, reason: str, actor: str) -> int:
    """Take a debtor's invoices out of the queue (reminders were done; a person decided
    not to collect now). They come back only by hand."""
    if not reason.strip():
        raise QueueRefused(N_("Say why the invoices leave the queue."))
    entries = _entries(session, debtor_id, None)
    for entry in entries:
        ENTRY_MOVES.check(entry.state, EntryState.LEFT)
        entry.state, entry.note = EntryState.LEFT.value, reason.strip()
        entry.changed_by, entry.changed_at = actor, utcnow()
    audit.record_each(
        session,
        actor,
        "collection.removed",
        debtor_id,
        [e.invoice_id for e in entries],
        reason=reason.strip(),
    )
    return len(entries)


# ------------------------------------------------------------------- rules
def rules(session: Session) -> dict[int, CollectionRule]:
    """Every segment's rule by segment id (a segment without one: by hand only)."""
    return {r.segment_id: r for r in session.scalars(select(CollectionRule))}


def save_rule(
    session: Session,
    segment: Segment,
    mode: str,
    after_days: int,
    agency_id: int | None,
    actor: str,
) -> CollectionRule:
    """Set a segment's rule: `manual`, or `auto` after `after_days` to an agency."""
    if mode not in ("manual", "auto"):
        raise QueueRefused(N_("Choose by hand or automatically."))
    if not 0 <= after_days <= 365:
        raise QueueRefused(N_("Days in the queue: from 0 to 365."))
    agency = session.get(Agency, agency_id) if agency_id else None
    if mode == "auto" and (agency is None or not agency.active):
        raise QueueRefused(N_("Choose the agency that gets the claims automatically."))
    rule = session.scalar(select(CollectionRule).where(CollectionRule.segment_id == segment.id))
    if rule is None:
        rule = CollectionRule(segment_id=segment.id)
        session.add(rule)
    rule.mode, rule.after_days, rule.agency_id = mode, after_days, agency.id if agency else None
    audit.record(
        session,
        actor,
        "collection.rule_saved",
        segment=segment.id,
        mode=mode,
        after_days=after_days,
        agency=rule.agency_id,
    )
    session.flush()
    return rule


def due_automatically(session: Session, day: dt.date) -> dict[tuple[int, int], list[int]]:
    """(debtor, agency) -> the invoice ids the rules hand over today: waiting at least the
    rule's days, not stopped, not disputed, promised or planned."""
    rows = session.execute(
        select(
            CollectionEntry.debtor_id,
            CollectionRule.agency_id,
            CollectionEntry.invoice_id,
            CollectionEntry.entered_on,
            CollectionRule.after_days,
        )
        .join(Invoice, Invoice.id == CollectionEntry.invoice_id)
        .join(Debtor, Debtor.id == CollectionEntry.debtor_id)
        .join(CollectionRule, CollectionRule.segment_id == Debtor.segment_id)
        .join(Agency, Agency.id == CollectionRule.agency_id)
        .where(
            CollectionEntry.state == EntryState.WAITING.value,
            CollectionRule.mode == "auto",
            Agency.active.is_(True),
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.open_cents > 0,
            ~blocked(day),
            CollectionEntry.entered_on <= day,
        )
        .order_by(CollectionEntry.debtor_id, CollectionEntry.invoice_id)
    )
    due: dict[tuple[int, int], list[int]] = defaultdict(list)
    for debtor_id, agency_id, invoice_id, entered_on, after_days in rows:
        if agency_id is not None and entered_on + dt.timedelta(days=after_days) <= day:
            due[(debtor_id, agency_id)].append(invoice_id)
    return dict(due)


@dataclass
class SweepResult:
    entered: int = 0
    left: int = 0
    handed_over: int = 0  # hand-overs (debtors)
    failed: list[str] = field(default_factory=list)


HandOver = Callable[[Session, int, int, list[int]], object]


def sweep(session: Session, day: dt.date, hand_over: HandOver) -> SweepResult:
    """The daily work: enter, tidy, then hand over what the rules say (`hand_over(session,
    debtor_id, agency_id, invoice_ids)`, one savepoint each so one failure keeps the rest)."""
    result = SweepResult(left=tidy(session), entered=enqueue_from_schedule(session, day))
    for (debtor_id, agency_id), invoice_ids in due_automatically(session, day).items():
        try:
            with session.begin_nested():
                hand_over(session, debtor_id, agency_id, invoice_ids)
        except Problem as exc:
            result.failed.append(f"debtor {debtor_id}: {exc}")
            continue
        result.handed_over += 1
    return result


# ------------------------------------------------------------------- the page
@dataclass
class Group:
    """One debtor's invoices in the queue, as the page shows them."""

    debtor_id: int
    number: str
    name: str
    segment: str
    invoices: int
    open_cents: int
    currency: str
    oldest_due: dt.date
    entered_on: dt.date
    stopped: int
    grade: str
    days_late: int | None
    flags: set[str] = field(default_factory=set)
    rule: str = "manual"
    automatic_on: dt.date | None = None

    def age(self, day: dt.date) -> int:
        """Days since the oldest due date."""
        return (day - self.oldest_due).days

    def waited(self, day: dt.date) -> int:
        return (day - self.entered_on).days


@dataclass
class QueuePage:
    groups: list[Group]
    total_debtors: int
    total_invoices: int
    total_cents: int
    page: int
    has_next: bool


def page(session: Session, day: dt.date, page_no: int = 1, q: str = "") -> QueuePage:
    """One page of debtors in the queue (oldest entry first), with totals over all."""
    conditions = [CollectionEntry.state.in_(IN_QUEUE)]
    if q:
        like = f"%{q.lower()}%"
        matching = select(Debtor.id).where(
            or_(func.lower(Debtor.name).like(like), func.lower(Debtor.number).like(like))
        )
        conditions.append(CollectionEntry.debtor_id.in_(matching))
    totals = session.execute(
        select(
            func.count(func.distinct(CollectionEntry.debtor_id)),
            func.count(),
            func.coalesce(func.sum(Invoice.open_cents), 0),
        )
        .select_from(CollectionEntry)
        .join(Invoice, Invoice.id == CollectionEntry.invoice_id)
        .where(*conditions)
    ).one()
    grouped = (
        select(
            CollectionEntry.debtor_id,
            func.count().label("n"),
            func.sum(Invoice.open_cents).label("cents"),
            func.min(Invoice.currency).label("currency"),
            func.min(Invoice.due_date).label("oldest"),
            func.min(CollectionEntry.entered_on).label("entered"),
            func.sum(case((CollectionEntry.state == EntryState.STOPPED.value, 1), else_=0)).label(
                "stopped"
            ),
        )
        .join(Invoice, Invoice.id == CollectionEntry.invoice_id)
        .where(*conditions)
        .group_by(CollectionEntry.debtor_id)
        .order_by(func.min(CollectionEntry.entered_on), CollectionEntry.debtor_id)
        .offset((page_no - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = session.execute(grouped).all()
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    ids = [r.debtor_id for r in rows]
    debtors = {
        d.id: d
        for d in session.execute(
            select(
                Debtor.id,
                Debtor.number,
                Debtor.name,
                Debtor.segment_id,
                Segment.name.label("segment"),
            )
            .outerjoin(Segment, Segment.id == Debtor.segment_id)
            .where(Debtor.id.in_(ids))
        )
    }
    ratings = {
        r.debtor_id: r
        for r in session.execute(
            select(DebtorRating.debtor_id, DebtorRating.grade, DebtorRating.days_late).where(
                DebtorRating.debtor_id.in_(ids)
            )
        )
    }
    flags: dict[int, set[str]] = defaultdict(set)
    for name, condition in (
        ("disputed", disputed()),
        ("promised", promised(day)),
        ("planned", planned()),
    ):
        for (debtor_id,) in session.execute(
            select(func.distinct(CollectionEntry.debtor_id))
            .join(Invoice, Invoice.id == CollectionEntry.invoice_id)
            .where(
                CollectionEntry.debtor_id.in_(ids), CollectionEntry.state.in_(IN_QUEUE), condition
            )
        ):
            flags[debtor_id].add(name)
    segment_rules = rules(session)
    groups = []
    for r in rows:
        d = debtors[r.debtor_id]
        rating = ratings.get(r.debtor_id)
        rule = segment_rules.get(d.segment_id) if d.segment_id else None
        group = Group(
            debtor_id=r.debtor_id,
            number=d.number,
            name=d.name,
            segment=d.segment or "",
            invoices=r.n,
            open_cents=int(r.cents or 0),
            currency=r.currency,
            oldest_due=r.oldest,
            entered_on=r.entered,
            stopped=int(r.stopped or 0),
            grade=rating.grade if rating else "",
            days_late=rating.days_late if rating else None,
            flags=flags.get(r.debtor_id, set()),
        )
        if rule is not None and rule.mode == "auto":
            group.rule = "auto"
            group.automatic_on = r.entered + dt.timedelta(days=rule.after_days)
        groups.append(group)
    return QueuePage(
        groups=groups,
        total_debtors=int(totals[0]),
        total_invoices=int(totals[1]),
        total_cents=int(totals[2]),
        page=page_no,
        has_next=has_next,
    )


def entries_of(session: Session, debtor_id: int) -> list[CollectionEntry]:
    """A debtor's invoices in the queue, oldest due first."""
    return list(
        session.scalars(
            select(CollectionEntry)
            .join(Invoice, Invoice.id == CollectionEntry.invoice_id)
            .where(CollectionEntry.debtor_id == debtor_id, CollectionEntry.state.in_(IN_QUEUE))
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
