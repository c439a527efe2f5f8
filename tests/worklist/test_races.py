"""Two workers seeing one event at once make one task; two clerks logging an outcome at
once end in one outcome and a 409. Real threads, each with its own connection, on a
committed database (PostgreSQL: the unique index and the row lock make the second wait;
SQLite: transactions begin IMMEDIATE and take turns)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain.worklist import service
from portal.domain.worklist.models import WorkTask, WorkTaskSource
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import english_client
from tests.factories import create_admin, create_debtor, create_invoice

pytestmark = [pytest.mark.committed, pytest.mark.usefixtures("committed")]

TODAY = dt.date(2026, 11, 20)


def owing_debtor():
    debtor = create_debtor(phone="+31612345678")
    create_invoice(debtor, invoice_date=dt.date(2026, 10, 1), due_date=dt.date(2026, 10, 15))
    db.session.remove()
    return debtor.id


def at_once(work, n=2):
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            work(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


@pytest.mark.parametrize("keys", [("promise:7", "promise:7"), ("promise:7", "promise:8")])
def test_two_workers_seeing_events_at_once_make_one_task(app, keys):
    debtor_id = owing_debtor()

    def make(i: int) -> None:
        with db.unit_of_work() as session:
            service.make(
                session,
                debtor_id=debtor_id,
                reason="broken_promise",
                due_on=TODAY,
                actor=f"worker:{i}",
                source_key=keys[i],
            )

    at_once(make)
    [task] = db.session.scalars(select(WorkTask)).all()
    entries = [e.action for e in task.entries]
    # the same event twice: recorded once; two events: the second joins the open task
    assert entries == (["created"] if keys[0] == keys[1] else ["created", "event"])
    sources = db.session.scalars(select(WorkTaskSource)).all()
    assert sorted(s.key for s in sources) == sorted(set(keys))
    assert all(s.task_id == task.id for s in sources)


def test_two_clerks_logging_at_once_give_one_outcome_and_a_409(app):
    debtor_id = owing_debtor()
    with db.unit_of_work() as session:
        task_id = service.make(
            session, debtor_id=debtor_id, reason="call", due_on=TODAY, actor="system"
        ).task.id
    clients = []
    for email in ("anna@example.com", "ben@example.com"):
        create_admin(email, role="clerk")
        client = english_client(app)
        admin_login(client, email)
        clients.append(client)
    forms = [
        {"csrf_token": page_csrf(c, f"/admin/tasks/{task_id}"), "version": "1", "outcome": o}
        for c, o in zip(clients, ("wrong_number", "done"), strict=True)
    ]
    db.session.remove()
    codes: dict[int, int] = {}

    def post(i: int) -> None:
        codes[i] = clients[i].post(f"/admin/tasks/{task_id}/outcome", data=forms[i]).status_code

    at_once(post)
    assert sorted(codes.values()) == [303, 409]
    task = db.session.get(WorkTask, task_id)
    outcomes = [e.outcome for e in task.entries if e.action == "outcome"]
    assert len(outcomes) == 1 and task.outcome == outcomes[0]
