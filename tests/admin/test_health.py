"""Knowing when something is wrong: /healthz and /readyz, the worker's and the morning
run's heartbeats, the dashboard's warnings, and deciding on mail left in doubt."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal import tasks
from portal.db import db
from portal.domain import liveness
from portal.domain.messaging import outbox
from portal.models import AuditEvent, JobRun, OutboxMessage, utcnow
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import english_client
from tests.factories import business_today, create_admin
from tests.routes.test_outage import database_unreachable


def message(status: str, **kw: object) -> OutboxMessage:
    row = OutboxMessage(
        channel="email",
        kind="reminder",
        recipient=kw.pop("recipient", "anna@example.com"),
        subject="Reminder",
        body_text="Please pay",
        sender="Brand <billing@brand.example.com>",
        status=status,
        **kw,
    )
    db.session.add(row)
    db.session.commit()
    return row


def staff(app, email="boss@example.com", role="admin"):
    create_admin(email, role=role)
    client = english_client(app)
    admin_login(client, email)
    return client


# ---------------------------------------------------------------- liveness, readiness
def test_healthz_stays_trivial_and_readyz_says_what_failed(app, client):
    with db.session() as session:
        liveness.beat(session, "worker-1", utcnow())
        session.commit()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {
        "ready": True,
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok", "queue": "ok"},
    }
    with database_unreachable():
        assert client.get("/healthz").status_code == 200  # the process runs
        down = client.get("/readyz")
    assert down.status_code == 503 and down.json["checks"]["database"] == "unreachable"


def test_readyz_fails_on_a_stale_worker_heartbeat(app, client):
    liveness.beat(db.session(), "worker-1", utcnow() - dt.timedelta(minutes=3))
    db.session.commit()
    stale = client.get("/readyz")
    assert stale.status_code == 503
    assert stale.json["checks"]["worker"] == "last seen 3 minutes ago"
    assert stale.json["checks"]["database"] == "ok"
    tasks.heartbeat()  # the worker's schedule runs again
    assert client.get("/readyz").status_code == 200


def test_a_morning_run_whose_worker_died_is_marked_failed(app):
    run = liveness.start_run(db.session(), "dunning", business_today(), utcnow())
    run.heartbeat_at = utcnow() - dt.timedelta(minutes=3)
    alive = liveness.start_run(db.session(), "dunning", business_today(), utcnow())
    db.session.commit()
    tasks.heartbeat()  # the reaper runs with the worker's heartbeat
    db.session.expire_all()
    assert db.session.get(JobRun, run.id).status == "failed"
    assert "worker stopped" in db.session.get(JobRun, run.id).error
    assert db.session.get(JobRun, alive.id).status == "running"


# --------------------------------------------------------------------- the dashboard
def test_the_dashboard_warns_and_the_warnings_go_once_things_are_done(app):
    message("doubt")
    message("failed", claimed_at=utcnow() - dt.timedelta(hours=2))
    message("failed", claimed_at=utcnow() - dt.timedelta(days=3))  # older: not counted
    message("pending", next_attempt_at=utcnow() - dt.timedelta(minutes=20))
    boss = staff(app)
    page = boss.get("/admin/").get_data(as_text=True)
    assert "1 message is in doubt" in page
    assert "1 message failed in the last 24 hours" in page
    assert "The oldest waiting message has been due for 20 minutes" in page
    assert "No worker has run yet" in page
    assert "reminder run has not run yet" in page
    # the worker runs, someone starts the run from the dashboard
    tasks.heartbeat()
    ran = boss.post("/admin/dunning/run-now", data={"csrf_token": page_csrf(boss)})
    assert ran.status_code == 303
    page = boss.get("/admin/").get_data(as_text=True)
    assert "No worker has run yet" not in page and "has not been seen" not in page
    assert "reminder run" not in page
    run = db.session.scalars(select(JobRun)).one()
    assert run.kind == "dunning" and run.status == "done"


def test_a_quiet_worker_and_a_stopped_run_are_named(app):
    liveness.beat(db.session(), "worker-1", utcnow() - dt.timedelta(minutes=7))
    run = liveness.start_run(db.session(), "dunning", business_today(), utcnow())
    liveness.fail_run(db.session(), run.id, utcnow(), "OperationalError('connection lost')")
    db.session.commit()
    page = staff(app).get("/admin/").get_data(as_text=True)
    assert "The worker has not been seen for 7 minutes" in page
    assert "stopped before it was done: OperationalError" in page


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("nl", "1 bericht is onzeker"),
        ("fr", "1 message est incertain"),
    ],
)
def test_the_warnings_speak_dutch_and_french(app, language, text):
    message("doubt")
    create_admin("baas@example.com")
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    admin_login(client, "baas@example.com")
    assert text in client.get("/admin/").get_data(as_text=True)


# ------------------------------------------------------------- mail left in doubt
def test_an_admin_resends_marks_or_cancels_mail_in_doubt_each_audited(app, inbox):
    first = message("doubt", recipient="one@example.com")
    second = message("doubt", recipient="two@example.com")
    third = message("doubt", recipient="three@example.com")
    boss = staff(app)
    listing = boss.get("/admin/outbox?status=doubt").get_data(as_text=True)
    assert "nobody knows whether the mail server took them" in listing
    token = page_csrf(boss, "/admin/outbox?status=doubt")
    resent = boss.post(
        "/admin/outbox/decide",
        data={"csrf_token": token, "action": "resend", "id": [first.id], "back": "doubt"},
    )
    assert resent.status_code == 303
    # sent again at once, with the Message-ID the first attempt had
    received = inbox.wait_for("one@example.com")
    assert received["Message-ID"] == outbox.message_id(first)
    marked = boss.post(
        "/admin/outbox/decide",
        data={"csrf_token": token, "action": "mark_sent", "id": [second.id], "back": "doubt"},
    )
    assert marked.status_code == 303
    cancelled = boss.post(
        "/admin/outbox/decide",
        data={"csrf_token": token, "action": "cancel", "all": "doubt", "back": "doubt"},
    )
    assert "1 message is cancelled." in boss.get(cancelled.headers["Location"]).get_data(
        as_text=True
    )
    db.session.expire_all()
    statuses = [db.session.get(OutboxMessage, m.id).status for m in (first, second, third)]
    assert statuses == ["sent", "sent", "cancelled"]
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.startswith("outbox."))
    ).all()
    assert sorted(actions) == ["outbox.cancel", "outbox.mark_sent", "outbox.resend"]
    # deciding again on one message: someone else already did
    again = boss.post(
        "/admin/outbox/decide",
        data={"csrf_token": token, "action": "cancel", "id": [second.id], "back": "message"},
    )
    assert again.status_code == 409
    assert "Someone else just decided this: message" in again.get_data(as_text=True)


def test_clerks_do_not_decide_on_mail(app):
    row = message("doubt")
    clerk = staff(app, "clerk@example.com", role="clerk")
    token = page_csrf(clerk)
    answer = clerk.post(
        "/admin/outbox/decide", data={"csrf_token": token, "action": "resend", "id": [row.id]}
    )
    assert answer.status_code == 403
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).status == "doubt"
