"""The events that make tasks, found by one scan (the worker runs it every ten minutes,
and after the morning run and the plans' daily check).

A scan rather than a hook in each place: the events happen in several modules and on
several paths (a webhook, an SMTP reply, the daily run, the clock passing a date), and a
scan also finds what happened while the worker was down. Each event has a key (e.g.
``promise:12``) that `service.make` records, so a second scan, or a second worker, makes
nothing more.

Events older than `LOOKBACK_DAYS` are left alone (a first scan on an old database does not
flood the queue), and so are debtors who owe nothing any more. The scan also closes open
tasks (other than those made by hand) of debtors who owe nothing now, and refreshes the
priorities of the others.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Exists

from portal.domain import audit
from portal.domain.requests import OPEN_STATES
from portal.domain.worklist import service
from portal.domain.worklist.models import (
    TASK_MOVES,
    TaskReason,
    TaskStatus,
    WorkTask,
    WorkTaskEntry,
)
from portal.models import (
    PAYABLE_KINDS,
    Claim,
    ClaimMessage,
    Debtor,
    DebtorEmail,
    DebtorRating,
    DebtorRequest,
    InstalmentPlan,
    Invoice,
    InvoiceStatus,
    OutboxMessage,
    OutboxStatus,
    PlanStatus,
    ReminderStep,
    RequestKind,
    RequestState,
    utcnow,
)

DISPUTE_WAIT_DAYS = 5  # a dispute nobody answered this long becomes a task
LOOKBACK_DAYS = 30
ACTOR = "system"


@dataclass
class ScanResult:
    made: Counter[str] = field(default_factory=Counter)  # new tasks per reason
    joined: int = 0  # events added to an open task
    closed: int = 0  # tasks of debtors who owe nothing now


def _owes() -> Exists:
    """The debtor (correlated) owes something now."""
    return exists().where(
        Invoice.debtor_id == Debtor.id,
        Invoice.status == InvoiceStatus.OPEN.value,
        Invoice.kind.in_(PAYABLE_KINDS),
        Invoice.open_cents > 0,
    )


def broken_promises(session: Session, today: dt.date) -> list[tuple[str, int, int | None]]:
    """(key, debtor, invoice) of open promises whose day passed with the invoice unpaid."""
    rows = session.execute(
        select(DebtorRequest.id, DebtorRequest.debtor_id, DebtorRequest.invoice_id)
        .join(Invoice, Invoice.id == DebtorRequest.invoice_id)
        .join(Debtor, Debtor.id == DebtorRequest.debtor_id)
        .where(
            DebtorRequest.kind == RequestKind.PROMISE.value,
            DebtorRequest.state.in_(OPEN_STATES),
            DebtorRequest.promise_date < today,
            DebtorRequest.promise_date >= today - dt.timedelta(days=LOOKBACK_DAYS),
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.open_cents > 0,
            Debtor.erased_at.is_(None),
        )
        .order_by(DebtorRequest.id)
    )
    return [(f"promise:{rid}", debtor_id, invoice_id) for rid, debtor_id, invoice_id in rows]


def breached_plans(session: Session, now: dt.datetime) -> list[tuple[str, int, int | None]]:
    """(key, debtor, None) of plans breached in the last `LOOKBACK_DAYS` days."""
    rows = session.execute(
        select(InstalmentPlan.id, InstalmentPlan.debtor_id)
        .join(Debtor, Debtor.id == InstalmentPlan.debtor_id)
        .where(
            InstalmentPlan.status == PlanStatus.BREACHED.value,
            InstalmentPlan.ended_at >= now - dt.timedelta(days=LOOKBACK_DAYS),
            Debtor.erased_at.is_(None),
            _owes(),
        )
        .order_by(InstalmentPlan.id)
    )
    return [(f"plan:{pid}", debtor_id, None) for pid, debtor_id in rows]


def undelivered_letters(session: Session, today: dt.date) -> list[tuple[str, int, int | None]]:
    """(key, debtor, None) of open 14-day-letter claims none of whose messages arrived:
    every message failed (bounced or refused), or the daily booking found it so."""
    any_message = exists().where(ClaimMessage.claim_id == Claim.id)
    not_failed = exists().where(
        ClaimMessage.claim_id == Claim.id,
        OutboxMessage.id == ClaimMessage.message_id,
        OutboxMessage.status != OutboxStatus.FAILED.value,
    )
    rows = session.execute(
        select(Claim.id, Claim.debtor_id)
        .join(ReminderStep, ReminderStep.id == Claim.step_id)
        .join(Debtor, Debtor.id == Claim.debtor_id)
        .where(
            Claim.closed.is_(False),
            ReminderStep.kind == "fourteen_day",
            Claim.opened_on >= today - dt.timedelta(days=2 * LOOKBACK_DAYS),
            or_(Claim.undelivered.is_(True), and_(any_message, ~not_failed)),
            Debtor.erased_at.is_(None),
            _owes(),
        )
        .order_by(Claim.id)
    )
    return [(f"claim:{cid}", debtor_id, None) for cid, debtor_id in rows]


def bounced_addresses(session: Session, now: dt.datetime) -> list[tuple[str, int, int | None]]:
    """(key, debtor, None) of addresses that started bouncing lately (a later bounce of the
    same address, after it was fixed, is a new event)."""
    rows = session.execute(
        select(DebtorEmail.id, DebtorEmail.debtor_id, DebtorEmail.bouncing_since)
        .join(Debtor, Debtor.id == DebtorEmail.debtor_id)
        .where(
            DebtorEmail.bouncing_since >= now - dt.timedelta(days=LOOKBACK_DAYS),
            Debtor.erased_at.is_(None),
            _owes(),
        )
        .order_by(DebtorEmail.id)
    )
    return [
        (f"bounce:{eid}:{since.strftime('%Y%m%dT%H%M%S')}", debtor_id, None)
        for eid, debtor_id, since in rows
        if since is not None
    ]


def waiting_disputes(session: Session, now: dt.datetime) -> list[tuple[str, int, int | None]]:
    """(key, debtor, invoice) of disputes still open, unanswered, after 5 days."""
    rows = session.execute(
        select(DebtorRequest.id, DebtorRequest.debtor_id, DebtorRequest.invoice_id)
        .join(Debtor, Debtor.id == DebtorRequest.debtor_id)
        .where(
            DebtorRequest.kind == RequestKind.DISPUTE.value,
            DebtorRequest.state == RequestState.OPEN.value,
            DebtorRequest.created_at <= now - dt.timedelta(days=DISPUTE_WAIT_DAYS),
            Debtor.erased_at.is_(None),
        )
        .order_by(DebtorRequest.id)
    )
    return [(f"dispute:{rid}", debtor_id, invoice_id) for rid, debtor_id, invoice_id in rows]


BATCH = 200  # events per transaction when the caller lets the scan commit


def scan(
    session: Session,
    today: dt.date,
    now: dt.datetime | None = None,
    commit: Callable[[], None] | None = None,
) -> ScanResult:
    """Turn every new event into a task (or join it to the debtor's open task of that
    reason), close tasks of debtors who owe nothing, refresh priorities. The caller
    commits; with `commit` the scan also commits every `BATCH` events, so a burst of
    events (a first scan) never holds one long transaction."""
    now = now or utcnow()
    result = ScanResult()
    found = [
        (TaskReason.BROKEN_PROMISE, broken_promises(session, today)),
        (TaskReason.PLAN_BREACHED, breached_plans(session, now)),
        (TaskReason.LETTER_UNDELIVERED, undelivered_letters(session, today)),
        (TaskReason.ADDRESS_BOUNCED, bounced_addresses(session, now)),
        (TaskReason.DISPUTE_WAITING, waiting_disputes(session, now)),
    ]
    seen = 0
    for reason, events in found:
        for key, debtor_id, invoice_id in events:
            made = service.make(
                session,
                debtor_id=debtor_id,
                reason=reason.value,
                due_on=today,
                actor=ACTOR,
                source_key=key,
                invoice_id=invoice_id,
            )
            if made.created:
                result.made[reason.value] += 1
            elif made.task is not None:
                result.joined += 1
            seen += 1
            if commit is not None and seen % BATCH == 0:
                commit()
    result.closed = settle(session)
    return result


def settle(session: Session) -> int:
    """Close open tasks (not those made by hand) of debtors who owe nothing now, and
    refresh the others' amounts and priorities; how many were closed.

    Set-based: one query reads every open task with what its debtor owes and its rating,
    one bulk UPDATE writes the priorities that changed (without raising the version: a
    clerk's open page stays valid); only the tasks to close are loaded as objects."""
    owed = (
        select(
            Invoice.debtor_id.label("debtor_id"),
            func.sum(Invoice.open_cents).label("cents"),
            func.min(Invoice.currency).label("currency"),
        )
        .where(
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.kind.in_(PAYABLE_KINDS),
            Invoice.open_cents > 0,
            Invoice.debtor_id.in_(
                select(WorkTask.debtor_id).where(WorkTask.status == TaskStatus.OPEN.value)
            ),
        )
        .group_by(Invoice.debtor_id)
        .subquery()
    )
    rows = session.execute(
        select(
            WorkTask.id,
            WorkTask.reason,
            WorkTask.at_stake_cents,
            WorkTask.priority,
            WorkTask.currency,
            owed.c.cents,
            owed.c.currency,
            DebtorRating.score,
        )
        .outerjoin(owed, owed.c.debtor_id == WorkTask.debtor_id)
        .outerjoin(DebtorRating, DebtorRating.debtor_id == WorkTask.debtor_id)
        .where(WorkTask.status == TaskStatus.OPEN.value)
    ).all()
    changed: list[dict[str, object]] = []
    settled: list[int] = []
    for task_id, reason, old_cents, old_priority, old_currency, cents, currency, score in rows:
        cents = int(cents or 0)
        if cents == 0 and reason != TaskReason.MANUAL.value:
            settled.append(task_id)
            continue
        new = (cents, service.priority(cents, score), currency or old_currency)
        if new != (old_cents, old_priority, old_currency):
            changed.append(
                {"id": task_id, "at_stake_cents": new[0], "priority": new[1], "currency": new[2]}
            )
    for start in range(0, len(changed), 1000):
        session.execute(update(WorkTask), changed[start : start + 1000])
    for task in session.scalars(select(WorkTask).where(WorkTask.id.in_(settled))):
        task.at_stake_cents = 0
        TASK_MOVES.check(task.status, TaskStatus.DONE)
        task.status, task.outcome = TaskStatus.DONE.value, "settled"
        task.closed_at, task.closed_by = utcnow(), ACTOR
        task.version += 1
        task.entries.append(WorkTaskEntry(actor=ACTOR, action="outcome", outcome="settled"))
        audit.record(session, ACTOR, "task.settled", debtor_id=task.debtor_id, task=task.id)
    return len(settled)
