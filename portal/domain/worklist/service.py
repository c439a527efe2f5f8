"""Making tasks, who may see and work them, and the outcomes a clerk logs.

A task is made once per event (`WorkTaskSource`, keyed by the event) and there is at most
one open task per debtor and reason (a partial unique index): an event for a debtor who
already has an open task of that reason joins that task's log instead. Both guards are
database constraints met with INSERT ... ON CONFLICT DO NOTHING, so two workers seeing the
same event at once make one task on SQLite and PostgreSQL alike.

Rights: a full admin sees and works every task and gives tasks to anyone. A clerk sees
their own tasks and the team's (unassigned) ones, works those (working a team task takes
it), and may give their own back to the team; another person's task is not theirs (403).

Every change locks the task, checks the version the clerk's page showed and raises it, so
two clerks logging an outcome at once end in one outcome and a 409 for the other.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from portal.domain import audit
from portal.domain import requests as req
from portal.domain.dunning import holds
from portal.domain.params import page_number
from portal.domain.problems import N_, Problem
from portal.domain.worklist.models import (
    TASK_MOVES,
    Outcome,
    PhoneFlag,
    TaskReason,
    TaskStatus,
    WorkTask,
    WorkTaskEntry,
    WorkTaskSource,
)
from portal.models import (
    PAYABLE_KINDS,
    AdminUser,
    Debtor,
    DebtorRating,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    utcnow,
)

RETRY_MAX_DAYS = 60  # "no answer, try again on ...": at most this far ahead
PAID_CHECK_DAYS = 7  # "paid already": reminders wait this long while the payment is traced
MAX_NOTE = 2000
HIGH, NORMAL = 70, 45  # priority from which a task is high, normal (else low)


class TaskRefused(Problem):
    """The outcome cannot be logged as asked; the message says what to change."""


class TaskChanged(Exception):
    """The task changed after the clerk's page showed it (someone else logged first)."""

    def __init__(self, task: WorkTask) -> None:
        super().__init__(f"task {task.id} changed meanwhile")
        self.task = task


class NotAllowed(Exception):
    """The task is someone else's: a clerk cannot see or work it."""


# ------------------------------------------------------------------ priority
def at_stake(session: Session, debtor_id: int) -> tuple[int, str]:
    """What the debtor owes now (open invoices, costs and interest) and its currency."""
    row = session.execute(
        select(func.coalesce(func.sum(Invoice.open_cents), 0), func.min(Invoice.currency)).where(
            Invoice.debtor_id == debtor_id,
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.kind.in_(PAYABLE_KINDS),
            Invoice.open_cents > 0,
        )
    ).one()
    return int(row[0]), row[1] or "EUR"


def priority(cents: int, score: int | None) -> int:
    """0-100 from the amount at stake (up to 60 points, by order of magnitude: €10 gives
    15, €100 30, €1,000 45, €10,000 60) and the risk (up to 40 points: the payer rating's
    score from the insight package turned round; 20 when the debtor is not rated)."""
    euros = max(cents, 0) / 100
    amount = min(60, round(15 * math.log10(1 + euros)))
    risk = 20 if score is None else round((100 - max(0, min(score, 100))) * 0.4)
    return max(0, min(100, amount + risk))


def priority_word(value: int) -> str:
    """high, normal or low."""
    return "high" if value >= HIGH else "normal" if value >= NORMAL else "low"


def _score(session: Session, debtor_id: int) -> int | None:
    return session.scalar(select(DebtorRating.score).where(DebtorRating.debtor_id == debtor_id))


def refresh_priority(session: Session, task: WorkTask) -> None:
    """Compute the task's amount at stake and priority afresh."""
    cents, currency = at_stake(session, task.debtor_id)
    task.at_stake_cents, task.currency = cents, currency
    task.priority = priority(cents, _score(session, task.debtor_id))


# -------------------------------------------------------------------- making
def _insert_ignore(session: Session, table: Any, values: dict[str, Any]) -> Any:
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(table).values(**values).on_conflict_do_nothing()


def open_task(session: Session, debtor_id: int, reason: str) -> WorkTask | None:
    """The debtor's open task of `reason`, if any."""
    return session.scalars(
        select(WorkTask).where(
            WorkTask.debtor_id == debtor_id,
            WorkTask.reason == reason,
            WorkTask.status == TaskStatus.OPEN.value,
        )
    ).first()


@dataclass
class Made:
    """What `make` did: a new task, or an event joined to an open one (or nothing: the
    event was seen before)."""

    task: WorkTask | None
    created: bool


def make(
    session: Session,
    *,
    debtor_id: int,
    reason: str,
    due_on: dt.date,
    actor: str,
    source_key: str | None = None,
    note: str = "",
    invoice_id: int | None = None,
    assignee_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Made:
    """Make a task for an event (the caller commits), once: an event whose `source_key`
    was seen before makes nothing; when the debtor has an open task of this reason, the
    event joins its log. Audited."""
    if reason not in tuple(TaskReason):
        raise ValueError(f"unknown reason {reason}")
    if source_key is not None:
        claimed = session.execute(
            _insert_ignore(
                session, WorkTaskSource.__table__, {"key": source_key, "at": utcnow()}
            ).returning(WorkTaskSource.__table__.c.key)
        ).scalar()
        if claimed is None:
            return Made(None, created=False)
    cents, currency = at_stake(session, debtor_id)
    now = utcnow()
    values = {
        "debtor_id": debtor_id,
        "reason": reason,
        "status": TaskStatus.OPEN.value,
        "due_on": due_on,
        "assignee_id": assignee_id,
        "priority": priority(cents, _score(session, debtor_id)),
        "at_stake_cents": cents,
        "currency": currency,
        "invoice_id": invoice_id,
        "note": note.strip()[:MAX_NOTE],
        "outcome": "",
        "attempts": 0,
        "version": 1,
        "created_at": now,
        "created_by": actor,
        "closed_by": "",
    }
    new_id = session.execute(
        _insert_ignore(session, WorkTask.__table__, values).returning(WorkTask.__table__.c.id)
    ).scalar()
    task = session.get_one(WorkTask, new_id) if new_id is not None else None
    created = task is not None
    if task is None:
        task = open_task(session, debtor_id, reason)
        if task is None:  # closed between the two statements: nothing left to join
            return Made(None, created=False)
    if source_key is not None:
        session.execute(
            update(WorkTaskSource).where(WorkTaskSource.key == source_key).values(task_id=task.id)
        )
    task.entries.append(
        WorkTaskEntry(
            actor=actor,
            action="created" if created else "event",
            text=note.strip()[:MAX_NOTE] if not created else "",
            details={"reason": reason, "source": source_key or "", **(details or {})},
        )
    )
    audit.record(
        session,
        actor,
        "task.created" if created else "task.event",
        debtor_id=debtor_id,
        invoice_id=invoice_id,
        task=task.id,
        reason=reason,
    )
    return Made(task, created)


def make_by_hand(
    session: Session,
    admin: AdminUser,
    debtor: Debtor,
    note: str,
    due_on: dt.date,
    assignee_id: int | None,
    actor: str,
    today: dt.date,
) -> WorkTask:
    """A task an admin makes from the debtor page (a clerk for themselves or the team)."""
    if not note.strip():
        raise TaskRefused(N_("Say what is to be done."))
    if not today <= due_on <= today + dt.timedelta(days=365):
        raise TaskRefused(N_("Choose a due date from today up to a year ahead."))
    if assignee_id not in (None, admin.id) and not admin.is_admin:
        raise NotAllowed("a clerk gives tasks to themselves or the team")
    if assignee_id is not None:
        person = session.get(AdminUser, assignee_id)
        if person is None or not person.active:
            raise TaskRefused(N_("Choose a person from the list."))
    made = make(
        session,
        debtor_id=debtor.id,
        reason=TaskReason.MANUAL.value,
        due_on=due_on,
        actor=actor,
        note=note,
        assignee_id=assignee_id,
    )
    if not made.created:
        raise TaskRefused(N_("This debtor already has an open task made by hand: add to that one."))
    assert made.task is not None
    return made.task


# -------------------------------------------------------------------- rights
def may_work(task: WorkTask, admin: AdminUser) -> bool:
    """A full admin works every task; a clerk their own and the team's."""
    return admin.is_admin or task.assignee_id in (None, admin.id)


def get_for(session: Session, task_id: int, admin: AdminUser) -> WorkTask | None:
    """The task when it exists (None), raising NotAllowed when it is not this admin's."""
    task = session.get(WorkTask, task_id)
    if task is not None and not may_work(task, admin):
        raise NotAllowed(f"task {task_id}")
    return task


# ------------------------------------------------------------------- queries
VIEWS = ("mine", "team", "all")
DUES = ("all", "due", "overdue")
PAGE = 50


@dataclass(frozen=True)
class QueueFilter:
    """`view`: mine (my tasks and the team's), team (unassigned only), all (everyone's,
    full admins); `due`: all open, due (today or before), overdue (before today)."""

    view: str = "mine"
    due: str = "all"
    page: int = 1

    @classmethod
    def parse(cls, args: dict[str, str]) -> QueueFilter:
        view, due = args.get("view", "mine"), args.get("due", "all")
        return cls(
            view=view if view in VIEWS else "mine",
            due=due if due in DUES else "all",
            page=page_number(args.get("page", "")),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query of this filter with some values changed (links, the pager)."""
        values = {"view": self.view, "due": self.due, "page": self.page, **changes}
        return {k: v for k, v in values.items() if v not in ("", 1, "mine", "all") or k == "view"}


def queue(
    session: Session, admin: AdminUser, flt: QueueFilter, today: dt.date
) -> tuple[Sequence[WorkTask], bool]:
    """One page of open tasks: the most urgent first (due date, then priority); whether
    another page follows. A clerk asking for everyone's gets NotAllowed."""
    stmt = (
        select(WorkTask)
        .where(WorkTask.status == TaskStatus.OPEN.value)
        .options(joinedload(WorkTask.debtor), joinedload(WorkTask.assignee))
    )
    if flt.view == "all":
        if not admin.is_admin:
            raise NotAllowed("everyone's tasks")
    elif flt.view == "team":
        stmt = stmt.where(WorkTask.assignee_id.is_(None))
    else:
        stmt = stmt.where((WorkTask.assignee_id == admin.id) | WorkTask.assignee_id.is_(None))
    if flt.due == "due":
        stmt = stmt.where(WorkTask.due_on <= today)
    elif flt.due == "overdue":
        stmt = stmt.where(WorkTask.due_on < today)
    rows = session.scalars(
        stmt.order_by(WorkTask.due_on, WorkTask.priority.desc(), WorkTask.id)
        .offset((flt.page - 1) * PAGE)
        .limit(PAGE + 1)
    ).all()
    return rows[:PAGE], len(rows) > PAGE


def counts(session: Session, admin: AdminUser, today: dt.date) -> dict[str, int]:
    """Open tasks of this admin (mine), of the team, and of both those due or overdue."""
    mine = WorkTask.assignee_id == admin.id
    team = WorkTask.assignee_id.is_(None)
    rows = session.execute(
        select(
            func.count().filter(mine),
            func.count().filter(team),
            func.count().filter(WorkTask.due_on <= today),
            func.count().filter(WorkTask.due_on < today),
        ).where(WorkTask.status == TaskStatus.OPEN.value, mine | team)
    ).one()
    return {"mine": rows[0], "team": rows[1], "due": rows[2], "overdue": rows[3]}


def of_debtor(session: Session, debtor_id: int) -> Sequence[WorkTask]:
    """A debtor's tasks, open ones first, newest first."""
    return session.scalars(
        select(WorkTask)
        .where(WorkTask.debtor_id == debtor_id)
        .options(joinedload(WorkTask.assignee))
        .order_by((WorkTask.status == TaskStatus.OPEN.value).desc(), WorkTask.id.desc())
    ).all()


def open_invoices(session: Session, debtor_id: int) -> Sequence[Invoice]:
    """What the debtor owes now, oldest due first."""
    return session.scalars(
        select(Invoice)
        .where(
            Invoice.debtor_id == debtor_id,
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.kind.in_(PAYABLE_KINDS),
            Invoice.open_cents > 0,
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).all()


def promisable(session: Session, debtor_id: int, today: dt.date) -> set[int]:
    """The invoices a promise by phone is about unless the clerk says otherwise: the overdue
    ones (all open ones when none is overdue) that no dispute or plan holds already."""
    invoices = [
        i
        for i in open_invoices(session, debtor_id)
        if i.kind == InvoiceKind.INVOICE.value
        and not (i.hold_reason in ("dispute", "plan") and i.held_on(today))
    ]
    overdue = [i for i in invoices if i.due_date < today]
    return {i.id for i in overdue or invoices}


def phone_flag(session: Session, debtor: Debtor) -> PhoneFlag | None:
    """The flag on the debtor's current number, if a clerk found it wrong."""
    flag = session.get(PhoneFlag, debtor.id)
    return flag if flag is not None and debtor.phone and flag.phone == debtor.phone else None


# -------------------------------------------------------------------- acting
def _lock(session: Session, task: WorkTask, seen_version: int | None) -> None:
    """Take the task's row lock, read it afresh and check it is as the page showed it
    (SQLite: the transaction began IMMEDIATE, so a second writer waits and then sees the
    first one's change)."""
    session.refresh(task, with_for_update=True)
    if seen_version is not None and task.version != seen_version:
        raise TaskChanged(task)


def _touch(task: WorkTask) -> None:
    task.version += 1


def assign(
    session: Session,
    task: WorkTask,
    admin: AdminUser,
    to_id: int | None,
    actor: str,
    seen_version: int | None,
) -> None:
    """Give the task to `to_id` (None: the team). A clerk may take a team task or give
    their own back; a full admin gives any task to anyone active."""
    _lock(session, task, seen_version)
    if not task.is_open:
        raise TaskChanged(task)
    if not admin.is_admin:
        taking = task.assignee_id is None and to_id == admin.id
        giving_back = task.assignee_id == admin.id and to_id is None
        if not (taking or giving_back):
            raise NotAllowed("a clerk takes team tasks or gives back their own")
    if to_id is not None:
        person = session.get(AdminUser, to_id)
        if person is None or not person.active:
            raise TaskRefused(N_("Choose a person from the list."))
    if task.assignee_id == to_id:
        return
    task.assignee_id = to_id
    _touch(task)
    task.entries.append(WorkTaskEntry(actor=actor, action="assigned", details={"to": to_id}))
    audit.record(session, actor, "task.assigned", debtor_id=task.debtor_id, task=task.id, to=to_id)


@dataclass
class Logged:
    """An outcome as the clerk entered it."""

    outcome: str
    note: str = ""
    promise_date: dt.date | None = None
    invoice_ids: list[int] = field(default_factory=list)  # promise: these invoices
    dispute_invoice_id: int | None = None
    dispute_reason: str = ""
    retry_on: dt.date | None = None


CLOSING = {
    Outcome.PROMISE.value,
    Outcome.DISPUTE.value,
    Outcome.WRONG_NUMBER.value,
    Outcome.PAID_ALREADY.value,
    Outcome.DONE.value,
}


def log_outcome(
    session: Session,
    task: WorkTask,
    admin: AdminUser,
    logged: Logged,
    actor: str,
    today: dt.date,
    seen_version: int | None,
) -> None:
    """Log an outcome and do what it says (the caller commits once):

    - promise: each chosen open invoice gets a promise to pay by the date, exactly as the
      debtor makes one in the portal (`requests.promise`: it holds the reminders);
    - dispute: the invoice is disputed as in the portal (`requests.open_dispute`);
    - wrong number: the debtor's phone number is flagged;
    - no answer: the task waits until the day to try again;
    - paid already: reminders of unheld open invoices wait `PAID_CHECK_DAYS` days while
      the payment is traced;
    - note: added to the log, the task stays open; done: closed with the note;
    - cancel (full admins): closed as not needed.

    A team task is taken by the clerk who works it. Raises TaskRefused (input), NotAllowed
    (rights) or TaskChanged (someone else was first)."""
    _lock(session, task, seen_version)
    if not task.is_open:
        raise TaskChanged(task)
    if not may_work(task, admin):
        raise NotAllowed(f"task {task.id}")
    outcome = logged.outcome
    note = logged.note.strip()[:MAX_NOTE]
    debtor = task.debtor
    details: dict[str, Any] = {}
    if outcome == Outcome.PROMISE.value:
        details = _promise(session, task, logged, note, actor, today)
    elif outcome == Outcome.DISPUTE.value:
        details = _dispute(session, task, logged, note, actor, today)
    elif outcome == Outcome.WRONG_NUMBER.value:
        if not debtor.phone:
            raise TaskRefused(N_("This debtor has no phone number to flag."))
        flag = session.get(PhoneFlag, debtor.id) or PhoneFlag(debtor_id=debtor.id)
        flag.phone, flag.flagged_at, flag.flagged_by = debtor.phone, utcnow(), actor
        session.add(flag)
        details = {"phone": debtor.phone}
    elif outcome == Outcome.NO_ANSWER.value:
        day = logged.retry_on
        if day is None or not today <= day <= today + dt.timedelta(days=RETRY_MAX_DAYS):
            raise TaskRefused(
                N_("Choose a day to try again, from today up to %(days)s days ahead."),
                days=RETRY_MAX_DAYS,
            )
        task.due_on = day
        task.attempts += 1
        details = {"retry_on": day.isoformat()}
    elif outcome == Outcome.PAID_ALREADY.value:
        until = today + dt.timedelta(days=PAID_CHECK_DAYS)
        paused = []
        for invoice in open_invoices(session, task.debtor_id):
            if invoice.kind == InvoiceKind.INVOICE.value and not invoice.held_on(today):
                holds.pause(session, invoice, "paused", until, actor, today)
                paused.append(invoice.id)
        details = {"paused": paused, "until": until.isoformat()}
    elif outcome == Outcome.NOTE.value:
        if not note:
            raise TaskRefused(N_("Write the note."))
    elif outcome == Outcome.CANCEL.value:
        if not admin.is_admin:
            raise NotAllowed("only a full admin cancels a task")
    elif outcome != Outcome.DONE.value:
        raise TaskRefused(N_("Choose an outcome."))
    if task.assignee_id is None:
        task.assignee_id = admin.id
    if outcome in CLOSING or outcome == Outcome.CANCEL.value:
        closed = TaskStatus.CANCELLED if outcome == Outcome.CANCEL.value else TaskStatus.DONE
        TASK_MOVES.check(task.status, closed)
        task.status = (
            TaskStatus.CANCELLED.value if outcome == Outcome.CANCEL.value else TaskStatus.DONE.value
        )
        task.outcome = outcome
        task.closed_at, task.closed_by = utcnow(), actor
    _touch(task)
    task.entries.append(
        WorkTaskEntry(actor=actor, action="outcome", outcome=outcome, text=note, details=details)
    )
    audit.record(
        session,
        actor,
        f"task.{outcome}",
        debtor_id=task.debtor_id,
        invoice_id=task.invoice_id,
        task=task.id,
        **details,
    )


def _chosen_invoices(session: Session, task: WorkTask, ids: list[int]) -> list[Invoice]:
    """The debtor's own open invoices among `ids` (others are ignored)."""
    wanted = set(ids)
    return [
        i
        for i in open_invoices(session, task.debtor_id)
        if i.id in wanted and i.kind == InvoiceKind.INVOICE.value
    ]


def _promise(
    session: Session, task: WorkTask, logged: Logged, note: str, actor: str, today: dt.date
) -> dict[str, Any]:
    if logged.promise_date is None:
        raise TaskRefused(N_("Choose the day the customer promises to pay."))
    invoices = _chosen_invoices(session, task, logged.invoice_ids)
    if not invoices:
        raise TaskRefused(N_("Choose the invoices the promise is about."))
    made = []
    for invoice in invoices:  # a refusal (RequestRefused) says why, as in the portal
        request = req.promise(
            session, invoice, logged.promise_date, note or "(phone call)", actor, today
        )
        made.append(request.id)
    return {
        "until": logged.promise_date.isoformat(),
        "invoices": [i.id for i in invoices],
        "requests": made,
    }


def _dispute(
    session: Session, task: WorkTask, logged: Logged, note: str, actor: str, today: dt.date
) -> dict[str, Any]:
    ids = [logged.dispute_invoice_id] if logged.dispute_invoice_id is not None else []
    invoices = _chosen_invoices(session, task, ids)
    if not invoices:
        raise TaskRefused(N_("Choose the invoice the customer disputes."))
    if not note:
        raise TaskRefused(N_("Write down what the customer says is wrong."))
    request = req.open_dispute(
        session, invoices[0], logged.dispute_reason, note, None, actor, today
    )
    return {"invoice": invoices[0].id, "request": request.id, "reason": logged.dispute_reason}
