"""Dispatch after commit: what a unit of work leaves for the worker reaches it in one place.

While a request or a worker step (`step()`) works, the session notes what will need the
worker: new outbox messages (send the outbox), new outgoing webhook events (deliver them),
new agency deliveries (post them), the same rows inserted in bulk (`bulk.insert_rows`),
and jobs asked for with `later()` (an import job, the mails about a new batch). Only
after the transaction commits are the tasks enqueued, each once; a rollback drops them.
With `HUEY_IMMEDIATE` (tests) the same path runs the tasks inline, right after the
commit, in the same thread.

Domain code never calls the worker: it adds rows, and this module wakes the worker.
Outside a request or a worker step (the CLI, a shell, a test arranging rows) nothing is
noted: the worker's periodic rounds find those rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Flask, g, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from portal.domain import bulk
from portal.domain.collection.models import AgencyDelivery
from portal.models import OutboxMessage, WebhookEvent

PENDING = "dispatch.pending"  # noted in this transaction, not yet committed
READY = "dispatch.ready"  # committed, to enqueue once the transaction has ended

# a new row of this kind wakes this task
WAKES: dict[type, str] = {
    OutboxMessage: "send_outbox",
    WebhookEvent: "deliver_webhooks",
    AgencyDelivery: "deliver_agencies",
}

Job = tuple[str, tuple[Any, ...]]

_in_step: ContextVar[bool] = ContextVar("dispatch_in_step", default=False)


@contextmanager
def step() -> Iterator[None]:
    """A worker step: its commits wake the worker like a request's (tasks.py wraps each
    task in one)."""
    token = _in_step.set(True)
    try:
        yield
    finally:
        _in_step.reset(token)


def collecting() -> bool:
    """Whether commits now wake the worker: inside a request or a worker step."""
    return _in_step.get() or (has_app_context() and g.get("dispatch_request", False))


def _request_started() -> None:
    g.dispatch_request = True


def _request_ended(_exc: BaseException | None = None) -> None:
    g.pop("dispatch_request", None)


def later(session: Session, task: str, *args: Any) -> None:
    """Enqueue the task called `task` (in portal.tasks) with `args` once this session's
    transaction commits; nothing happens if it rolls back."""
    _pending(session)[(task, args)] = None


def _pending(session: Session) -> dict[Job, None]:
    pending: dict[Job, None] = session.info.setdefault(PENDING, {})
    return pending


def _after_flush(session: Session, _context: Any) -> None:
    if not collecting():
        return
    for obj in session.new:
        task = WAKES.get(type(obj))
        if task is not None:
            later(session, task)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction decides
    for model in session.info.pop(bulk.INSERTED, ()):  # rows without ORM objects
        task = WAKES.get(model)
        if task is not None and collecting():
            later(session, task)
    ready: dict[Job, None] = session.info.setdefault(READY, {})
    ready.update(session.info.pop(PENDING, {}))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint or a subtransaction: the outer transaction decides
    session.info.pop(PENDING, None)  # rolled back or closed without a commit
    session.info.pop(bulk.INSERTED, None)
    ready: dict[Job, None] = session.info.pop(READY, {})
    if ready:
        _enqueue(list(ready))


def _enqueue(jobs: list[Job]) -> None:
    """Hand the jobs to the queue (run inline in immediate mode: the transaction has
    ended, so the task may use the session again)."""
    from portal import tasks

    for name, args in jobs:
        getattr(tasks, name)(*args)


def install(app: Flask, factory: sessionmaker[Session]) -> None:
    """Make the app's requests units of work whose commits wake the worker, and listen on
    every session `factory` makes (`db.factory`)."""
    app.before_request(_request_started)
    app.teardown_request(_request_ended)
    if event.contains(factory, "after_flush", _after_flush):
        return
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_transaction_end", _after_transaction_end)
