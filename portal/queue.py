"""The task queue (Huey): on Redis with REDIS_URL, else in a SQLite file; periodic tasks
are enqueued once per deployment, however many workers run.

Every worker runs Huey's scheduler, which asks each minute which periodic tasks are due
(`read_periodic`). Here each due task is first claimed for that minute in the queue's own
backend (`put_if_empty`: HSETNX in Redis, an INSERT into the queue's SQLite table): the
first worker to claim (task, minute) enqueues it, the others leave it. So two workers
run the morning run once, not twice. The worker's heartbeat is the exception: each
worker writes its own, so a dead one shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.storage import RedisStorage, SqliteStorage

if TYPE_CHECKING:
    from portal.config import Settings

EVERY_WORKER = frozenset({"heartbeat"})  # periodic tasks each worker runs for itself
KEEP_SLOTS = 2  # claimed minutes remembered per task (a late scheduler finds the claim)


def claim_slot(huey: Huey, task_name: str, moment: dt.datetime) -> bool:
    """True for the first caller that claims `task_name` for the minute of `moment`.

    The claims of older minutes are removed as newer ones are made (the newest
    `KEEP_SLOTS` stay), so the backend does not fill up with a key per minute."""
    slot = moment.strftime("%Y-%m-%dT%H:%M")
    if not huey.put_if_empty(f"periodic:{task_name}:{slot}", slot):
        return False
    ledger = f"periodic:{task_name}"
    claimed = [s for s in (huey.get(ledger) or []) if s != slot]
    keep = [*claimed[-(KEEP_SLOTS - 1) :], slot] if KEEP_SLOTS > 1 else [slot]
    for old in claimed:
        if old not in keep:
            huey.delete(f"periodic:{task_name}:{old}")
    huey.put(ledger, keep)
    return True


class _OncePerDeployment:
    """Mixed into a Huey class: the periodic tasks due now, less those another worker's
    scheduler already claimed for this minute."""

    def read_periodic(self, timestamp: dt.datetime | None) -> list[Any]:
        huey: Any = self
        moment = timestamp or huey._get_timestamp()
        due = super().read_periodic(moment)  # type: ignore[misc]
        return [
            task for task in due if task.name in EVERY_WORKER or claim_slot(huey, task.name, moment)
        ]


class PortalRedisHuey(_OncePerDeployment, RedisHuey):
    """RedisHuey whose periodic tasks run once per deployment."""


class PortalSqliteHuey(_OncePerDeployment, SqliteHuey):
    """SqliteHuey whose periodic tasks run once per deployment (workers on one machine
    share the file)."""


class PortalHuey(_OncePerDeployment, Huey):
    """The app's queue. Made at import (tasks register on it) with no backend yet;
    `configure` binds it to Redis or SQLite from the app's `Settings`."""

    morning_run_utc = dt.time(7, 0)  # when the daily dunning run is due (configure)

    def configure(self, settings: Settings, *, immediate: bool) -> None:
        """Redis when REDIS_URL is set, else a SQLite file in the instance folder, named
        QUEUE_NAME; immediate mode runs tasks inline in memory (tests)."""
        self.name = settings.queue_name
        self.morning_run_utc = settings.morning_run_utc
        if settings.redis_url:
            self.storage_class, self.storage_kwargs = RedisStorage, {"url": settings.redis_url}
        else:
            settings.instance_path.mkdir(parents=True, exist_ok=True)
            filename = str(settings.instance_path / "huey.db")
            self.storage_class, self.storage_kwargs = SqliteStorage, {"filename": filename}
        self._immediate = immediate
        self.storage = self.create_storage()


def at_morning_run(huey: PortalHuey) -> Callable[[dt.datetime], bool]:
    """A periodic-task test that is true in the minute of `huey`'s morning run, read each
    time (it comes from the settings the queue was configured with)."""

    def due(moment: dt.datetime) -> bool:
        run = huey.morning_run_utc
        return (moment.hour, moment.minute) == (run.hour, run.minute)

    return due
