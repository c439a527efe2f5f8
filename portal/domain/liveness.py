"""Is anyone working? Heartbeats of the worker and of its long jobs, and readiness.

- The worker's periodic schedule writes a `WorkerHeartbeat` every minute (`beat`); its
  age (`worker_seen`) tells whether the worker and its schedule are alive.
- A long job (an import, the dunning run) writes its own heartbeat every `PULSE_SECONDS`
  from a small thread while it runs (`Pulse`). A job still `running` whose heartbeat is
  older than `JOB_STALE` lost its worker: `reap` marks it failed, so it can be started
  again instead of staying `running` for good.
- `readiness` answers /readyz: the database, migrations at head and the worker's
  heartbeat (the queue is checked by the caller, which owns it).

These small functions are also what metrics read.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from portal.models import ImportJob, JobRun, WorkerHeartbeat

log = logging.getLogger(__name__)

WORKER_STALE = dt.timedelta(minutes=2)  # /readyz fails beyond this
JOB_STALE = dt.timedelta(minutes=2)  # a running job without a heartbeat this long is dead
PULSE_SECONDS = 20.0
KEEP_HEARTBEATS = dt.timedelta(days=1)  # rows of workers gone this long are removed


MORNING_RUN_GRACE = dt.timedelta(hours=1)
STOPPED = "the worker stopped while this job ran (no heartbeat); nothing of it was saved"


# ---------------------------------------------------------------------------- worker
def beat(session: Session, name: str, now: dt.datetime) -> None:
    """Record that the worker `name` (host:pid) ran its schedule at `now` (caller commits)."""
    row = session.get(WorkerHeartbeat, name)
    if row is None:
        session.add(WorkerHeartbeat(name=name, seen_at=now))
    else:
        row.seen_at = now
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - KEEP_HEARTBEATS))


def worker_seen(session: Session) -> dt.datetime | None:
    """The last moment any worker ran its schedule (None: never)."""
    return session.scalar(select(func.max(WorkerHeartbeat.seen_at)))


# ------------------------------------------------------------------------------ jobs
def start_run(session: Session, kind: str, day: dt.date | None, now: dt.datetime) -> JobRun:
    """A job of `kind` begins (the caller commits, so others see it running)."""
    run = JobRun(kind=kind, day=day, status="running", started_at=now, heartbeat_at=now)
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session, run_id: int, now: dt.datetime, summary: dict[str, Any] | None = None
) -> None:
    """The job ended well (the caller commits)."""
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(status="done", finished_at=now, heartbeat_at=now, summary=summary or {})
    )


def fail_run(session: Session, run_id: int, now: dt.datetime, error: str) -> None:
    """The job stopped with an error (the caller commits)."""
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(status="failed", finished_at=now, error=error[:2000])
    )


def pulse_run(session: Session, run_id: int, now: dt.datetime) -> None:
    """A running job is still alive (the caller commits)."""
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id, JobRun.status == "running")
        .values(heartbeat_at=now)
    )


def pulse_import(session: Session, job_id: int, now: dt.datetime) -> None:
    """A running import job is still alive (the caller commits)."""
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == "running")
        .values(heartbeat_at=now)
    )


def last_run(session: Session, kind: str) -> JobRun | None:
    """The newest run of `kind`."""
    return session.scalars(
        select(JobRun).where(JobRun.kind == kind).order_by(JobRun.started_at.desc()).limit(1)
    ).first()


@dataclass(frozen=True)
class Reaped:
    runs: Sequence[int]
    imports: Sequence[int]


def reap(session: Session, now: dt.datetime) -> Reaped:
    """Mark jobs that are `running` without a recent heartbeat as failed (caller commits).

    Their worker died: an import is one transaction, so nothing of it was saved and it
    can be started again; the dunning run commits chunk by chunk under its unique
    (invoice, step) guard, so running it again sends only what is still due."""
    cutoff = now - JOB_STALE
    runs = session.scalars(
        update(JobRun)
        .where(JobRun.status == "running", JobRun.heartbeat_at < cutoff)
        .values(status="failed", finished_at=now, error=STOPPED)
        .returning(JobRun.id)
    ).all()
    imports = session.scalars(
        update(ImportJob)
        .where(
            ImportJob.status == "running",
            or_(ImportJob.heartbeat_at.is_(None), ImportJob.heartbeat_at < cutoff),
        )
        .values(status="failed", finished_at=now, error=STOPPED)
        .returning(ImportJob.id)
    ).all()
    if runs or imports:
        log.error("jobs without a worker marked failed: runs %s, imports %s", runs, imports)
    return Reaped(runs, imports)


def stale(heartbeat_at: dt.datetime | None, now: dt.datetime) -> bool:
    """A running job with this heartbeat has lost its worker."""
    return heartbeat_at is None or heartbeat_at < now - JOB_STALE


class Pulse:
    """Calls `beat` every `every` seconds in a thread while a long job runs:

        with Pulse(lambda: ...write the job's heartbeat in its own transaction...):
            do_the_long_work()

    A beat that fails (the database busy or away) is logged and tried again next time.
    """

    def __init__(self, beat: Callable[[], None], every: float = PULSE_SECONDS) -> None:
        self._beat = beat
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._beat()
            except Exception:  # the next beat may well work
                log.warning("job heartbeat not written", exc_info=True)

    def __enter__(self) -> Pulse:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every + 15)


# ------------------------------------------------------------------------- readiness
def readiness(session: Session, now: dt.datetime, heads: Sequence[str]) -> dict[str, str]:
    """What /readyz checks besides the queue: each value is "ok" or what is wrong."""
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # unreachable, refused, timed out, out of connections
        log.error("readyz: database: %s", exc)
        return {
            "database": "unreachable",
            "migrations": "not checked",
            "worker": "not checked",
        }
    checks["database"] = "ok"
    try:
        current = set(session.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception:
        session.rollback()
        current = set()
    missing = ", ".join(sorted(set(heads) - current))
    checks["migrations"] = "ok" if not missing else f"not at head: run db upgrade ({missing})"
    seen = worker_seen(session)
    if seen is None:
        checks["worker"] = "never seen"
    elif now - seen > WORKER_STALE:
        checks["worker"] = f"last seen {int((now - seen).total_seconds() // 60)} minutes ago"
    else:
        checks["worker"] = "ok"
    return checks


def morning_run_due(now: dt.datetime, run_at: dt.time) -> dt.datetime:
    """The start of the last morning run (daily at `run_at` UTC, MORNING_RUN_UTC) that
    should have happened by `now`."""
    today_run = dt.datetime.combine(now.date(), run_at, tzinfo=dt.UTC)
    if now >= today_run + MORNING_RUN_GRACE:
        return today_run
    return today_run - dt.timedelta(days=1)
