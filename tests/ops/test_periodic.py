"""Periodic tasks are enqueued once per deployment however many workers run: each
worker's scheduler claims (task, minute) in the queue's backend first (queue.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import redis
from huey import crontab

from portal.queue import KEEP_SLOTS, PortalRedisHuey, PortalSqliteHuey

REDIS_URL = "redis://127.0.0.1:6379/0"


def schedulers(kind: str, tmp_path, name: str):
    """Two workers' queues on one backend, each with the same periodic tasks."""
    if kind == "sqlite":
        made = [PortalSqliteHuey(name, filename=str(tmp_path / "huey.db")) for _ in range(2)]
    else:
        made = [PortalRedisHuey(name, url=REDIS_URL) for _ in range(2)]
    for huey in made:

        @huey.periodic_task(crontab(minute="*"), name="send_outbox_periodically")
        def every_minute() -> None: ...

        @huey.periodic_task(crontab(hour="7", minute="0"), name="dunning_daily")
        def morning() -> None: ...

        @huey.periodic_task(crontab(minute="*"), name="heartbeat")
        def beat() -> None: ...

    return made


@pytest.fixture(params=["sqlite", "redis"])
def two_workers(request, tmp_path):
    name = f"bp-test-{uuid.uuid4().hex[:10]}"
    made = schedulers(request.param, tmp_path, name)
    yield made
    if request.param == "redis":
        conn = redis.Redis.from_url(REDIS_URL)
        for key in conn.scan_iter(match=f"huey.*{name}*"):
            conn.delete(key)


def names(tasks) -> list[str]:
    return sorted(task.name for task in tasks)


def test_each_minute_one_scheduler_enqueues_what_is_due(two_workers):
    first, second = two_workers
    seven = dt.datetime(2026, 12, 7, 7, 0, 12)
    assert names(first.read_periodic(seven)) == [
        "dunning_daily",
        "heartbeat",
        "send_outbox_periodically",
    ]
    # the other worker's scheduler looks a few seconds later in the same minute
    assert names(second.read_periodic(seven + dt.timedelta(seconds=30))) == ["heartbeat"]
    # the next minute: whoever looks first runs it, once; the morning run is not due
    later = seven + dt.timedelta(minutes=1)
    assert names(second.read_periodic(later)) == ["heartbeat", "send_outbox_periodically"]
    assert names(first.read_periodic(later)) == ["heartbeat"]


def test_old_claims_are_cleared_so_the_backend_does_not_grow(two_workers):
    first, _second = two_workers
    start = dt.datetime(2026, 12, 7, 10, 0)
    for minute in range(10):
        first.read_periodic(start + dt.timedelta(minutes=minute))
    slots = [f"{start + dt.timedelta(minutes=minute):%Y-%m-%dT%H:%M}" for minute in range(10)]
    kept = [
        minute
        for minute, slot in enumerate(slots)
        if first.storage.has_data_for_key(f"periodic:send_outbox_periodically:{slot}")
    ]
    assert kept == list(range(10 - KEEP_SLOTS, 10))
