"""Admins shape reminder schedules; edits that break the legal order are refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain.dunning import schedules
from portal.domain.dunning.schedules import ScheduleProblem, StepInput
from portal.models import ReminderSchedule, Segment
from tests.admin.test_admin import admin_login, page_csrf
from tests.dunning.test_engine import DUE, kinds_sent, run
from tests.factories import create_admin, create_debtor, create_invoice


def step_form(schedule, changes=None, extra=None):
    """The schedule page's form as a browser would send it."""
    data = {"rows": str(len(schedule.steps) + 2), "min_gap_days": str(schedule.min_gap_days)}
    if schedule.sms_daytime_only:
        data["sms_daytime_only"] = "1"
    for n, step in enumerate(schedule.steps):
        p = f"steps-{n}-"
        data |= {
            p + "id": str(step.id),
            p + "offset": str(step.offset_days),
            p + "kind": step.kind,
            p + "fee": step.fee_rule,
            p + "min_open": "0,00",
            p + "channel": list(step.channel_list),  # the ticked boxes
        }
    for n, values in (changes or {}).items():
        data |= {f"steps-{n}-{k}": v for k, v in values.items()}
    if extra:
        n = len(schedule.steps)
        data |= {f"steps-{n}-{k}": v for k, v in extra.items()}
    return data


def admin(client):
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")


def test_an_admin_moves_a_step_and_the_run_follows(app, client, segment):
    schedule = db.session.get(ReminderSchedule, segment.schedule_id)
    admin(client)
    token = page_csrf(client, "/admin/schedules")
    # the first reminder at +3 instead of +7
    data = step_form(schedule, {1: {"offset": "3"}})
    response = client.post(
        f"/admin/schedules/{schedule.id}", data={"csrf_token": token, **data}, follow_redirects=True
    )
    assert "saved" in response.get_data(as_text=True)
    db.session.expire_all()
    offsets = [s.offset_days for s in db.session.get(ReminderSchedule, schedule.id).steps]
    assert offsets == [-3, 3, 14, 21, 28, 45]
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    run(app, DUE + dt.timedelta(days=3))
    assert kinds_sent(invoice) == ["reminder"]


def test_a_fourteen_day_letter_needs_an_earlier_reminder(app, client, segment):
    schedule = db.session.get(ReminderSchedule, segment.schedule_id)
    admin(client)
    token = page_csrf(client, "/admin/schedules")
    # move the 14-day letter before every reminder
    data = step_form(schedule, {4: {"offset": "1"}})
    response = client.post(f"/admin/schedules/{schedule.id}", data={"csrf_token": token, **data})
    assert response.status_code == 422
    assert "A 14-day letter needs an earlier reminder or notice." in response.get_data(True)
    db.session.expire_all()
    assert [s.offset_days for s in db.session.get(ReminderSchedule, schedule.id).steps][4] == 28


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [StepInput(None, 7, "reminder", "none", 0), StepInput(None, 7, "notice", "none", 0)],
            "Two steps have the same number of days.",
        ),
        ([StepInput(None, 7, "reminder", "wik", 0)], "Collection costs belong on a formal notice"),
        ([StepInput(None, 400, "reminder", "none", 0)], "Days must lie between -60 and 365."),
    ],
)
def test_rules_of_a_schedule(steps, message):
    with pytest.raises(ScheduleProblem, match=message):
        schedules.check(steps)


def test_a_sent_step_cannot_be_deleted(app, client, segment):
    schedule = db.session.get(ReminderSchedule, segment.schedule_id)
    debtor = create_debtor(segment_id=segment.id)
    create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    run(app, DUE + dt.timedelta(days=7))  # the first reminder is sent
    admin(client)
    token = page_csrf(client, "/admin/schedules")
    data = step_form(schedule, {1: {"delete": "1"}})
    response = client.post(f"/admin/schedules/{schedule.id}", data={"csrf_token": token, **data})
    assert response.status_code == 422 and "cannot be deleted" in response.get_data(True)


def test_copy_a_schedule_and_give_it_to_a_segment(app, client, segment):
    admin(client)
    token = page_csrf(client, "/admin/schedules")
    client.post(
        "/admin/schedules",
        data={"csrf_token": token, "source": segment.schedule_id, "name": "Gentle"},
    )
    gentle = db.session.scalar(select(ReminderSchedule).where(ReminderSchedule.name == "Gentle"))
    assert len(gentle.steps) == 6 and gentle.default_for is None
    seg_token = page_csrf(client, "/admin/segments")
    client.post(
        "/admin/segments",
        data={
            "csrf_token": seg_token,
            "segment_id": segment.id,
            "name": segment.name,
            "payment_term_days": "14",
            "partial_min": "25,00",
            "schedule_id": gentle.id,
        },
    )
    assert db.session.get(Segment, segment.id).schedule_id == gentle.id


def test_clerks_cannot_edit_schedules(app, client):
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    assert client.get("/admin/schedules").status_code == 403
