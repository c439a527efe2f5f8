"""The team's work queue: tasks made by the "call" step and by events, exactly once; the
outcomes a clerk logs and what they do; rights; races."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.db import db
from portal.domain import requests as req
from portal.domain.dunning import engine
from portal.domain.worklist import events, service
from portal.domain.worklist.models import PhoneFlag, WorkTask, WorkTaskSource
from portal.models import (
    AuditEvent,
    DebtorEmail,
    DebtorRequest,
    OutboxMessage,
    ReminderSchedule,
    ReminderStep,
)
from tests.admin.test_admin import admin_login
from tests.conftest import csrf_from
from tests.dunning.test_engine import DUE, kinds_sent, run
from tests.factories import create_admin, create_debtor, create_invoice, create_segment
from tests.plans.test_progress import START, active_plan, daily

TODAY = DUE + dt.timedelta(days=20)


def tasks_of(debtor, reason=None):
    stmt = select(WorkTask).where(WorkTask.debtor_id == debtor.id)
    if reason:
        stmt = stmt.where(WorkTask.reason == reason)
    return db.session.scalars(stmt.order_by(WorkTask.id)).all()


def overdue(debtor, cents=50_000, **kw):
    return create_invoice(
        debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE, total_cents=cents, **kw
    )


def scan(day=TODAY, now=None):
    result = events.scan(db.session(), day, now)
    db.session.commit()
    return result


def call_segment(steps):
    schedule = ReminderSchedule(name=f"Calls {id(object())}", min_gap_days=7)
    schedule.steps = [
        ReminderStep(position=n, offset_days=o, kind=k, fee_rule="none")
        for n, (o, k) in enumerate(steps, start=1)
    ]
    db.session.add(schedule)
    db.session.commit()
    return create_segment(schedule_id=schedule.id)


# ----------------------------------------------------------------- the call step
def test_a_call_step_makes_one_task_instead_of_a_message(app, monkeypatch):
    segment = call_segment([(7, "reminder"), (14, "call"), (21, "notice")])
    later = create_invoice(  # another debtor (earlier in the run), at the reminder that day
        create_debtor(segment_id=segment.id),
        invoice_date=DUE - dt.timedelta(days=7),
        due_date=DUE + dt.timedelta(days=7),
    )
    debtor = create_debtor(segment_id=segment.id, phone="+31612345678")
    first, second = overdue(debtor), overdue(debtor, 20_000)
    run(app, DUE + dt.timedelta(days=7))
    reminders = db.session.scalar(select(func.count()).select_from(OutboxMessage))

    def one_by_one(*args, **kwargs):
        raise AssertionError("the chunk was refused and written group by group")

    # the task and the other debtor's reminder are written in one chunk, in bulk
    monkeypatch.setattr(engine, "_write_one", one_by_one)
    run(app, DUE + dt.timedelta(days=14))
    monkeypatch.undo()
    assert kinds_sent(later) == ["reminder"]
    run(app, DUE + dt.timedelta(days=14))  # a second run the same day does nothing more
    # one message: the other debtor's reminder; none for the call
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == reminders + 1
    [task] = tasks_of(debtor)
    assert task.reason == "call" and task.status == "open" and task.assignee_id is None
    assert task.due_on == DUE + dt.timedelta(days=14)
    assert task.at_stake_cents == 70_000 and task.priority > 0
    assert kinds_sent(first) == kinds_sent(second) == ["reminder", "call"]
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.debtor_id == debtor.id)
    ).all()
    assert actions.count("dunning.call_task") == 2  # one per invoice on its timeline
    # the call does not stand in for a reminder: the notice follows on its own day
    run(app, DUE + dt.timedelta(days=21))
    assert kinds_sent(first) == ["reminder", "call", "notice"]


def test_a_call_falling_on_a_sunday_is_due_on_monday_and_is_never_a_reminder():
    from portal.domain.dunning import schedules, terms

    assert terms.call_on(dt.date(2026, 11, 1)) == dt.date(2026, 11, 2)  # Sunday -> Monday
    assert terms.call_on(dt.date(2026, 12, 25)) == dt.date(2026, 12, 28)  # Christmas, weekend
    assert not terms.sends_message("call")
    assert not terms.announces_costs("nl_b2b", "call", "wik")
    with pytest.raises(schedules.ScheduleProblem):  # a call is no reminder before the letter
        schedules.check(
            [
                schedules.StepInput(None, 7, "call", "none", 0),
                schedules.StepInput(None, 21, "fourteen_day", "wik", 0),
            ]
        )


def test_an_open_call_task_takes_the_next_call_step_into_its_log(app):
    segment = call_segment([(7, "call"), (14, "call")])
    debtor = create_debtor(segment_id=segment.id)
    overdue(debtor)
    run(app, DUE + dt.timedelta(days=7))
    run(app, DUE + dt.timedelta(days=14))
    [task] = tasks_of(debtor)
    assert [e.action for e in task.entries] == ["created", "event"]


# ------------------------------------------------------------------ the events
def test_a_broken_promise_makes_one_task(app):
    debtor = create_debtor()
    invoice = overdue(debtor)
    req.promise(db.session(), invoice, TODAY + dt.timedelta(days=3), "", "debtor:1", TODAY)
    db.session.commit()
    assert scan(TODAY + dt.timedelta(days=3)).made["broken_promise"] == 0  # the day itself
    for _ in range(2):
        scan(TODAY + dt.timedelta(days=4))
    [task] = tasks_of(debtor)
    assert task.reason == "broken_promise" and task.invoice_id == invoice.id


def test_a_breached_plan_makes_one_task(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    active_plan(debtor, overdue(debtor, 30_000))
    daily(app, START + dt.timedelta(days=14))
    daily(app, START + dt.timedelta(days=15))
    for _ in range(2):
        scan(START + dt.timedelta(days=15))
    assert [t.reason for t in tasks_of(debtor)] == ["plan_breached"]


def test_an_undelivered_fourteen_day_letter_makes_one_task(app, segment):
    debtor = create_debtor(segment_id=segment.id)  # email only: no letter goes by post
    invoice = overdue(debtor, 300_000)
    for offset in (7, 14, 21, 28):
        run(app, DUE + dt.timedelta(days=offset))
    assert kinds_sent(invoice)[-1] == "fourteen_day"
    assert scan(DUE + dt.timedelta(days=28)).made["letter_undelivered"] == 0  # still pending
    letter = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    letter.status = "failed"  # the mail server refused it (5xx)
    db.session.commit()
    for _ in range(2):
        scan(DUE + dt.timedelta(days=29))
    assert [t.reason for t in tasks_of(debtor)] == ["letter_undelivered"]


def test_a_bounced_address_makes_one_task_and_a_later_bounce_another(app):
    debtor = create_debtor()
    overdue(debtor)
    address = db.session.scalars(
        select(DebtorEmail).where(DebtorEmail.debtor_id == debtor.id)
    ).one()
    address.bouncing_since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    address.bounce_reason = "550 no such user"
    db.session.commit()
    for _ in range(2):
        scan()
    [task] = tasks_of(debtor)
    assert task.reason == "address_bounced"
    service.log_outcome(
        db.session(), task, create_admin(), service.Logged("done"), "admin:1", TODAY, None
    )
    db.session.commit()
    scan()
    assert len(tasks_of(debtor)) == 1  # the same bounce, seen again: nothing new
    address.bouncing_since = dt.datetime.now(dt.UTC)  # fixed, then bouncing again
    db.session.commit()
    scan()
    assert len(tasks_of(debtor)) == 2


def test_a_dispute_waits_five_days_for_an_answer_before_it_makes_one_task(app):
    debtor = create_debtor()
    invoice = overdue(debtor)
    req.open_dispute(db.session(), invoice, "quality", "Broken", None, "debtor:1", TODAY)
    db.session.commit()
    now = dt.datetime.now(dt.UTC)
    assert scan(now=now + dt.timedelta(days=4)).made["dispute_waiting"] == 0
    for _ in range(2):
        scan(now=now + dt.timedelta(days=5, minutes=1))
    assert [t.reason for t in tasks_of(debtor)] == ["dispute_waiting"]


def test_a_debtor_who_pays_has_their_open_tasks_closed(app):
    debtor = create_debtor()
    invoice = overdue(debtor)
    made = service.make(
        db.session(), debtor_id=debtor.id, reason="call", due_on=TODAY, actor="system"
    )
    db.session.commit()
    assert made.created and made.task.at_stake_cents == 50_000
    invoice.open_cents = 100  # a part paid: less at stake, lower priority, same version
    db.session.commit()
    before = made.task.priority
    assert scan().closed == 0
    db.session.expire_all()
    assert made.task.at_stake_cents == 100 and made.task.priority < before
    assert made.task.version == 1
    invoice.open_cents, invoice.status = 0, "paid"
    db.session.commit()
    assert scan().closed == 1
    assert made.task.status == "done" and made.task.outcome == "settled"


def test_the_database_refuses_a_second_open_task_of_a_reason(app):
    debtor = create_debtor()
    db.session.add(WorkTask(debtor_id=debtor.id, reason="call", due_on=TODAY, priority=1))
    db.session.commit()
    db.session.add(WorkTask(debtor_id=debtor.id, reason="call", due_on=TODAY, priority=1))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # a closed one does not count
    first = tasks_of(debtor)[0]
    first.status = "done"
    db.session.add(WorkTask(debtor_id=debtor.id, reason="call", due_on=TODAY, priority=1))
    db.session.commit()
    assert len(tasks_of(debtor)) == 2


def test_an_event_seen_by_two_scans_is_recorded_once(app):
    debtor = create_debtor()
    overdue(debtor)
    first = service.make(
        db.session(),
        debtor_id=debtor.id,
        reason="manual",
        due_on=TODAY,
        actor="a",
        source_key="test:1",
    )
    again = service.make(
        db.session(),
        debtor_id=debtor.id,
        reason="manual",
        due_on=TODAY,
        actor="a",
        source_key="test:1",
    )
    db.session.commit()
    assert first.created and again.task is None
    assert db.session.scalar(select(func.count()).select_from(WorkTaskSource)) >= 1


def test_priority_grows_with_the_amount_and_the_risk():
    assert service.priority(1_000_000, 90) > service.priority(10_000, 90)
    assert service.priority(10_000, 20) > service.priority(10_000, 90)
    assert service.priority(0, 100) == 0
    assert service.priority(10**12, 0) == 100


# ---------------------------------------------------------------- the outcomes
def task_for(debtor, **kw):
    made = service.make(
        db.session(), debtor_id=debtor.id, reason="call", due_on=TODAY, actor="system", **kw
    )
    db.session.commit()
    assert made.task is not None
    return made.task


def test_a_promise_by_phone_holds_reminders_until_the_day_passes(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue(debtor)
    run(app, DUE + dt.timedelta(days=7))
    assert kinds_sent(invoice) == ["reminder"]
    task = task_for(debtor)
    clerk = create_admin(role="clerk")
    promised = DUE + dt.timedelta(days=25)
    service.log_outcome(
        db.session(),
        task,
        clerk,
        service.Logged("promise", promise_date=promised, invoice_ids=[invoice.id]),
        f"admin:{clerk.id}",
        DUE + dt.timedelta(days=10),
        task.version,
    )
    db.session.commit()
    assert task.status == "done" and task.assignee_id == clerk.id
    promise = db.session.scalars(
        select(DebtorRequest).where(DebtorRequest.invoice_id == invoice.id)
    ).one()
    assert promise.kind == "promise" and promise.promise_date == promised
    for offset in (14, 21, 25):  # the morning runs skip the invoice until the day passed
        run(app, DUE + dt.timedelta(days=offset))
        assert kinds_sent(invoice) == ["reminder"], offset
    run(app, DUE + dt.timedelta(days=26))
    assert kinds_sent(invoice) == ["reminder", "reminder"]


def test_outcomes_do_what_they_say(app):
    debtor = create_debtor(phone="+31612345678")
    invoice = overdue(debtor)
    clerk = create_admin(role="clerk")
    actor = f"admin:{clerk.id}"

    task = task_for(debtor)
    service.log_outcome(
        db.session(),
        task,
        clerk,
        service.Logged("no_answer", retry_on=TODAY + dt.timedelta(2)),
        actor,
        TODAY,
        task.version,
    )
    db.session.commit()
    assert task.status == "open" and task.due_on == TODAY + dt.timedelta(2)
    assert task.attempts == 1

    service.log_outcome(
        db.session(), task, clerk, service.Logged("wrong_number"), actor, TODAY, task.version
    )
    db.session.commit()
    assert db.session.get(PhoneFlag, debtor.id).phone == "+31612345678"
    assert service.phone_flag(db.session(), debtor) is not None
    debtor.phone = "+31687654321"  # a new number clears the flag by itself
    db.session.commit()
    assert service.phone_flag(db.session(), debtor) is None

    task = task_for(debtor)
    service.log_outcome(
        db.session(),
        task,
        clerk,
        service.Logged(
            "dispute",
            note="Never delivered",
            dispute_invoice_id=invoice.id,
            dispute_reason="not_received",
        ),
        actor,
        TODAY,
        task.version,
    )
    db.session.commit()
    dispute = db.session.scalars(select(DebtorRequest)).one()
    assert dispute.kind == "dispute" and dispute.reason == "not_received"
    assert invoice.hold_reason == "dispute"

    other = create_debtor()
    owed = overdue(other)
    task = task_for(other)
    service.log_outcome(
        db.session(), task, clerk, service.Logged("paid_already"), actor, TODAY, task.version
    )
    db.session.commit()
    assert owed.hold_reason == "paused" and owed.hold_until == TODAY + dt.timedelta(days=7)
    outcomes = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("task.%"))
    ).all()
    for action in ("task.no_answer", "task.wrong_number", "task.dispute", "task.paid_already"):
        assert action in outcomes


def test_bad_input_is_refused_and_changes_nothing(app):
    debtor = create_debtor()
    overdue(debtor)
    task = task_for(debtor)
    clerk = create_admin(role="clerk")
    for logged in (
        service.Logged("promise", promise_date=None),
        service.Logged("no_answer", retry_on=TODAY - dt.timedelta(days=1)),
        service.Logged("note"),
        service.Logged("wrong_number"),  # no number to flag
        service.Logged("whatever"),
    ):
        with pytest.raises(service.TaskRefused):
            service.log_outcome(db.session(), task, clerk, logged, "a", TODAY, task.version)
        db.session.rollback()
    with pytest.raises(service.NotAllowed):  # cancelling is for full admins
        service.log_outcome(
            db.session(), task, clerk, service.Logged("cancel"), "a", TODAY, task.version
        )
    db.session.rollback()
    assert task.status == "open" and task.version == 1


# ------------------------------------------------------------ pages and rights
def page_csrf(client, path):
    return csrf_from(client.get(path).get_data(as_text=True))


def test_a_clerk_sees_and_works_only_their_own_and_the_teams_tasks(app, client):
    clerk, colleague = create_admin(role="clerk"), create_admin(role="clerk")
    mine, teams, theirs = (create_debtor(name=n) for n in ("Mine BV", "Team BV", "Theirs BV"))
    for d in (mine, teams, theirs):
        overdue(d)
    my_task = task_for(mine, assignee_id=clerk.id)
    team_task = task_for(teams)
    their_task = task_for(theirs, assignee_id=colleague.id)
    admin_login(client, clerk.email)
    page = client.get("/admin/tasks").get_data(as_text=True)
    assert "Mine BV" in page and "Team BV" in page and "Theirs BV" not in page
    assert client.get("/admin/tasks?view=team").get_data(as_text=True).count("BV</a>") == 1
    assert client.get("/admin/tasks/all").status_code == 403
    assert client.get(f"/admin/tasks/{their_task.id}").status_code == 403
    token = page_csrf(client, f"/admin/tasks/{my_task.id}")
    refused = client.post(
        f"/admin/tasks/{their_task.id}/outcome",
        data={"csrf_token": token, "outcome": "done", "version": their_task.version},
    )
    assert refused.status_code == 403
    # a clerk may not hand a team task to a colleague, but may take it
    given = client.post(
        f"/admin/tasks/{team_task.id}/assign",
        data={"csrf_token": token, "admin_id": colleague.id, "version": 1},
    )
    assert given.status_code == 403
    taken = client.post(
        f"/admin/tasks/{team_task.id}/assign",
        data={"csrf_token": token, "admin_id": clerk.id, "version": 1},
    )
    assert taken.status_code == 303
    team_task = db.session.get(WorkTask, team_task.id)
    assert team_task.assignee_id == clerk.id
    # without the CSRF token nothing happens
    assert (
        client.post(f"/admin/tasks/{my_task.id}/outcome", data={"outcome": "done"}).status_code
        == 400
    )
    their_task = db.session.get(WorkTask, their_task.id)
    assert their_task.status == "open"


def test_a_full_admin_sees_everyones_tasks_and_gives_them_out(app, client):
    boss, clerk = create_admin(), create_admin(role="clerk")
    debtor = create_debtor(name="Anyone BV")
    overdue(debtor)
    task = task_for(debtor, assignee_id=clerk.id)
    admin_login(client, boss.email)
    assert "Anyone BV" in client.get("/admin/tasks/all").get_data(as_text=True)
    page = client.get(f"/admin/tasks/{task.id}").get_data(as_text=True)
    assert 'href="tel:' not in page  # no phone number known
    token = csrf_from(page)
    moved = client.post(
        f"/admin/tasks/{task.id}/assign",
        data={"csrf_token": token, "admin_id": boss.id, "version": task.version},
    )
    assert moved.status_code == 303
    task = db.session.get(WorkTask, task.id)
    assert task.assignee_id == boss.id


def test_two_clerks_logging_at_once_end_in_one_outcome_and_a_409(app, client):
    debtor = create_debtor(phone="+31612345678")
    overdue(debtor)
    task = task_for(debtor)
    clerk = create_admin(role="clerk")
    admin_login(client, clerk.email)
    page = client.get(f"/admin/tasks/{task.id}").get_data(as_text=True)
    assert 'href="tel:+31612345678"' in page
    token, version = csrf_from(page), re.search(r'name="version" value="(\d+)"', page).group(1)
    first = client.post(
        f"/admin/tasks/{task.id}/outcome",
        data={"csrf_token": token, "outcome": "wrong_number", "version": version},
    )
    assert first.status_code == 303
    second = client.post(  # the other clerk's page still showed the old version
        f"/admin/tasks/{task.id}/outcome",
        data={"csrf_token": token, "outcome": "done", "version": version},
    )
    assert second.status_code == 409
    assert "Wrong number" in second.get_data(as_text=True)
    task = db.session.get(WorkTask, task.id)
    assert task.outcome == "wrong_number" and len(task.entries) == 2


def test_a_task_made_by_hand_from_the_debtor_page(app, client):
    clerk, colleague = create_admin(role="clerk"), create_admin(role="clerk")
    debtor = create_debtor()
    overdue(debtor)
    admin_login(client, clerk.email)
    page = client.get(f"/admin/debtors/{debtor.id}").get_data(as_text=True)
    assert "Make a task" in page
    token = csrf_from(page)
    made = client.post(
        f"/admin/debtors/{debtor.id}/tasks",
        data={"csrf_token": token, "note": "Ask for the new address", "due_on": "", "assignee": ""},
    )
    assert made.status_code == 303
    [task] = tasks_of(debtor)
    assert task.reason == "manual" and task.note == "Ask for the new address"
    again = client.post(
        f"/admin/debtors/{debtor.id}/tasks",
        data={"csrf_token": token, "note": "Twice", "assignee": ""},
        follow_redirects=True,
    )
    assert "already has an open task" in again.get_data(as_text=True)
    refused = client.post(  # a clerk does not give work to a colleague
        f"/admin/debtors/{create_debtor().id}/tasks",
        data={"csrf_token": token, "note": "For you", "assignee": colleague.id},
    )
    assert refused.status_code == 403


def test_the_call_guide_speaks_the_debtors_language(app, client):
    boss = create_admin()
    debtor = create_debtor(language="fr", phone="+32470123456")
    overdue(debtor)
    task = task_for(debtor)
    admin_login(client, boss.email)
    page = client.get(f"/admin/tasks/{task.id}").get_data(as_text=True)
    assert "Call guide" in page  # the page in the admin's language
    assert "Bonjour" in page  # the guide in the customer's


def test_the_schedule_editor_offers_the_call_step(app, client):
    boss = create_admin()
    admin_login(client, boss.email)
    page = client.get("/admin/schedules").get_data(as_text=True)
    assert '<option value="call"' in page


def test_a_refused_outcome_shows_the_task_again_with_the_reason(app, client):
    clerk = create_admin(role="clerk")
    debtor = create_debtor()
    overdue(debtor)
    task = task_for(debtor)
    admin_login(client, clerk.email)
    token = csrf_from(client.get(f"/admin/tasks/{task.id}").get_data(as_text=True))
    refused = client.post(
        f"/admin/tasks/{task.id}/outcome",
        data={
            "csrf_token": token,
            "outcome": "promise",
            "promise_date": "2099-01-01",
            "invoice": [],
            "version": task.version,
        },
    )
    assert refused.status_code == 422
    assert "Choose the invoices the promise is about." in refused.get_data(as_text=True)
    task = db.session.get(WorkTask, task.id)
    assert task.status == "open" and task.version == 1


def test_a_debtors_export_holds_their_tasks_and_erasure_clears_the_notes(app, tmp_path):
    from portal.domain import personal_data

    debtor = create_debtor(phone="+31612345678")
    invoice = overdue(debtor)
    clerk = create_admin(role="clerk")
    task = task_for(debtor)
    service.log_outcome(
        db.session(),
        task,
        clerk,
        service.Logged("wrong_number", note="Spoke to Jan Smit"),
        "admin:1",
        TODAY,
        task.version,
    )
    manual = service.make_by_hand(
        db.session(), clerk, debtor, "Ask Jan Smit for the new address", TODAY, None, "a", TODAY
    )
    db.session.commit()
    data = personal_data.collect(db.session(), debtor.id).data
    assert [t["reason"] for t in data["tasks"]] == ["call", "manual"]
    assert data["tasks"][0]["log"][-1]["text"] == "Spoke to Jan Smit"
    assert data["phone_flags"][0]["phone"] == "+31612345678"

    invoice.open_cents, invoice.status = 0, "paid"  # erasure waits until nothing is owed
    db.session.commit()
    personal_data.erase(db.session(), debtor, by="admin:1", cache_dir=tmp_path)
    db.session.commit()
    db.session.expire_all()
    manual = db.session.get(WorkTask, manual.id)
    assert manual.status == "cancelled" and manual.note == ""
    assert all(e.text == "" for t in tasks_of(debtor) for e in t.entries)
    assert db.session.get(PhoneFlag, debtor.id) is None


def test_the_promise_form_proposes_the_overdue_invoices_nothing_holds(app):
    debtor = create_debtor()
    late, disputed = overdue(debtor), overdue(debtor)
    create_invoice(debtor, invoice_date=TODAY, due_date=TODAY + dt.timedelta(days=14))
    req.open_dispute(db.session(), disputed, "quality", "Broken", None, "debtor:1", TODAY)
    db.session.commit()
    assert service.promisable(db.session(), debtor.id, TODAY) == {late.id}


def test_the_dunning_command_counts_the_calls_apart(app):
    segment = call_segment([(7, "call")])
    debtor = create_debtor(segment_id=segment.id)
    overdue(debtor)
    day = (DUE + dt.timedelta(days=7)).isoformat()
    out = app.test_cli_runner().invoke(args=["dunning", "run", "--date", day])
    assert out.exit_code == 0, out.output
    assert "0 marked ready for collection, 1 calls for the team" in out.output
    assert [t.reason for t in tasks_of(debtor)] == ["call"]
