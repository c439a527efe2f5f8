"""What an operator watches, read from the database in a few grouped queries: the outbox,
the worker's heartbeat, the morning run and other jobs, imports, payments and webhooks.

`/metrics` (portal/metrics.py) turns these figures into Prometheus metrics at each
scrape, so every web process reports the same truth whichever worker did the work.
Records of API test keys and providers' test modes are left out of payments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain import liveness
from portal.models import (
    ImportJob,
    JobRun,
    OutboxMessage,
    OutboxStatus,
    Payment,
    WebhookDelivery,
    WebhookEvent,
    WorkerHeartbeat,
)

JOB_KINDS = ("dunning",)  # JobRun kinds reported even before their first run
QUEUED = "queued"  # a webhook delivery not yet applied by the worker


@dataclass(frozen=True)
class LastRun:
    """The newest run of a job kind, and the newest that ended well."""

    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    summary: dict[str, int]
    last_success_at: dt.datetime | None


@dataclass(frozen=True)
class Figures:
    now: dt.datetime
    outbox: dict[tuple[str, str], int]  # (channel, status) -> messages
    outbox_oldest_due: dict[str, float]  # channel -> seconds the oldest due one waits
    worker_seen: dt.datetime | None
    workers_recent: int  # workers with a heartbeat within liveness.WORKER_STALE
    jobs: dict[str, LastRun | None]  # kind -> newest run
    imports: dict[str, int]  # status -> import jobs
    payments: dict[tuple[str, str], int]  # (provider, status) -> payments (no test mode)
    webhooks_in_waiting: int  # received, not applied yet
    webhooks_in_oldest_waiting: float  # seconds the oldest of those waits
    webhooks_out: dict[str, int]  # status -> outgoing events
    webhooks_out_oldest_pending: float  # seconds the oldest undelivered event waits


def _age(now: dt.datetime, moment: dt.datetime | None) -> float:
    return 0.0 if moment is None else max((now - moment).total_seconds(), 0.0)


def _moment(value: object) -> dt.datetime | None:
    """An aggregate's datetime: SQLite returns text, PostgreSQL a datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def read(session: Session, now: dt.datetime) -> Figures:
    """Every figure `/metrics` reports, as of `now`."""
    outbox = {
        (channel, status): int(n)
        for channel, status, n in session.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
                OutboxMessage.channel, OutboxMessage.status
            )
        )
    }
    oldest_due = {
        channel: _age(now, _moment(first))
        for channel, first in session.execute(
            select(OutboxMessage.channel, func.min(OutboxMessage.next_attempt_at))
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
            .group_by(OutboxMessage.channel)
        )
    }
    workers_recent = int(
        session.scalar(
            select(func.count()).where(WorkerHeartbeat.seen_at >= now - liveness.WORKER_STALE)
        )
        or 0
    )
    imports = {
        status: int(n)
        for status, n in session.execute(
            select(ImportJob.status, func.count()).group_by(ImportJob.status)
        )
    }
    payments = {
        (provider, status): int(n)
        for provider, status, n in session.execute(
            select(Payment.provider, Payment.status, func.count())
            .where(Payment.test_mode.is_(False))
            .group_by(Payment.provider, Payment.status)
        )
    }
    waiting, oldest_waiting, out, oldest_out = _webhooks(session, now)
    return Figures(
        now=now,
        outbox=outbox,
        outbox_oldest_due=oldest_due,
        worker_seen=liveness.worker_seen(session),
        workers_recent=workers_recent,
        jobs=_jobs(session),
        imports=imports,
        payments=payments,
        webhooks_in_waiting=waiting,
        webhooks_in_oldest_waiting=oldest_waiting,
        webhooks_out=out,
        webhooks_out_oldest_pending=oldest_out,
    )


def _jobs(session: Session) -> dict[str, LastRun | None]:
    kinds = set(JOB_KINDS) | set(session.scalars(select(JobRun.kind).distinct()))
    jobs: dict[str, LastRun | None] = {}
    for kind in sorted(kinds):
        run = liveness.last_run(session, kind)
        if run is None:
            jobs[kind] = None
            continue
        success = session.scalar(
            select(func.max(JobRun.finished_at)).where(JobRun.kind == kind, JobRun.status == "done")
        )
        jobs[kind] = LastRun(
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            summary={k: int(v) for k, v in (run.summary or {}).items() if isinstance(v, int)},
            last_success_at=_moment(success),
        )
    return jobs


def _webhooks(session: Session, now: dt.datetime) -> tuple[int, float, dict[str, int], float]:
    """Incoming deliveries the worker has not applied yet (the lag: how long the oldest
    waits), and outgoing events per status with the age of the oldest undelivered one.
    How many arrive is the request counter of /webhooks/<provider>."""
    waiting, oldest = session.execute(
        select(func.count(), func.min(WebhookDelivery.received_at)).where(
            WebhookDelivery.outcome == QUEUED
        )
    ).one()
    out = {
        status: int(n)
        for status, n in session.execute(
            select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
        )
    }
    pending_since = session.scalar(
        select(func.min(WebhookEvent.created_at)).where(
            WebhookEvent.status.in_(("pending", "sending"))
        )
    )
    return int(waiting or 0), _age(now, _moment(oldest)), out, _age(now, _moment(pending_since))
