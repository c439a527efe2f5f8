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
import os
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey

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


def build(env: Any = None) -> Huey:
    """RedisHuey when REDIS_URL is set, else a SQLite-backed queue in the instance folder;
    named QUEUE_NAME (default betaalportaal)."""
    from portal.config import ConfigError, queue_name

    env = os.environ if env is None else env
    try:
        name = queue_name(env)
    except ConfigError:
        name = "betaalportaal"  # Settings.from_env refuses the value at start-up
    redis_url = env.get("REDIS_URL")
    if redis_url:
        return PortalRedisHuey(name, url=redis_url)
    instance = Path(env.get("PORTAL_INSTANCE_PATH", "instance")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    return PortalSqliteHuey(name, filename=str(instance / "huey.db"))
