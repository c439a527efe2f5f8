"""Pausing and resuming reminders by hand, and debtors who must not be contacted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import db
from portal.domain.clock import today
from portal.models import AuditEvent, Debtor, Invoice, ReminderStep
from tests.admin.test_admin import admin_login, page_csrf
from tests.dunning.test_engine import DUE, kinds_sent, run
from tests.factories import create_admin, create_debtor, create_invoice


def clerk(client):
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")


def test_pause_until_a_date_then_reminders_resume(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    until = today(app.config["SETTINGS"].portal_timezone) + dt.timedelta(days=10)
    response = client.post(
        f"/admin/invoices/{invoice.id}/hold",
        data={"csrf_token": token, "reason": "promise", "until": until.isoformat()},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Reminders for this invoice are paused." in page and "Promised to pay" in page
    held = db.session.get(Invoice, invoice.id)
    assert (held.hold_reason, held.hold_until) == ("promise", until)
    assert run(app, until).invoices == 0
    assert run(app, until + dt.timedelta(days=1)).invoices == 1
    assert kinds_sent(invoice) == ["reminder"]


def test_pause_without_date_holds_until_resumed(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    client.post(
        f"/admin/invoices/{invoice.id}/hold", data={"csrf_token": token, "reason": "dispute"}
    )
    assert run(app, DUE + dt.timedelta(days=30)).invoices == 0
    client.post(f"/admin/invoices/{invoice.id}/resume", data={"csrf_token": token})
    assert run(app, DUE + dt.timedelta(days=30)).invoices == 1
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.invoice_id == invoice.id).order_by(AuditEvent.id)
    ).all()
    assert actions[:2] == ["dunning.paused", "dunning.resumed"]


def test_a_hold_in_the_past_or_with_an_odd_reason_is_refused(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor)
    clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    for data in (
        {"reason": "paused", "until": "2020-01-01"},
        {"reason": "holiday"},
        {"reason": "paused", "until": "tomorrow"},
    ):
        response = client.post(
            f"/admin/invoices/{invoice.id}/hold",
            data={"csrf_token": token, **data},
            follow_redirects=True,
        )
        assert "Choose a reason" in response.get_data(as_text=True)
    assert db.session.get(Invoice, invoice.id).hold_reason == ""


def test_do_not_contact_stops_every_reminder(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    clerk(client)
    token = page_csrf(client, f"/admin/debtors/{debtor.id}")
    client.post(
        f"/admin/debtors/{debtor.id}/contact", data={"csrf_token": token, "do_not_contact": "1"}
    )
    assert db.session.get(Debtor, debtor.id).do_not_contact is True
    assert run(app, DUE + dt.timedelta(days=7)).invoices == 0
    page = client.get(f"/admin/debtors/{debtor.id}").get_data(as_text=True)
    assert "Do not contact: no reminders are sent to this debtor." in page
    client.post(
        f"/admin/debtors/{debtor.id}/contact", data={"csrf_token": token, "do_not_contact": "0"}
    )
    assert run(app, DUE + dt.timedelta(days=7)).invoices == 1


def test_hold_actions_need_csrf(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    clerk(client)
    assert (
        client.post(f"/admin/invoices/{invoice.id}/hold", data={"reason": "paused"}).status_code
        == 400
    )
    assert client.post(f"/admin/debtors/{debtor.id}/contact", data={}).status_code == 400


def test_an_admin_sends_a_step_now_but_never_twice(app, client, segment, inbox):
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    notice = db.session.scalar(  # the first step after the due date: the run's next one
        select(ReminderStep)
        .where(ReminderStep.schedule_id == segment.schedule_id, ReminderStep.kind == "reminder")
        .order_by(ReminderStep.position)
    )
    clerk(client)
    page = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert "Send a step now" in page
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    sent = client.post(
        f"/admin/invoices/{invoice.id}/send-step",
        data={"csrf_token": token, "step_id": notice.id},
        follow_redirects=True,
    )
    assert "The step was sent." in sent.get_data(as_text=True)
    assert "Reminder" in str(inbox.wait_for(debtor.primary_email)["Subject"])
    again = client.post(
        f"/admin/invoices/{invoice.id}/send-step",
        data={"csrf_token": token, "step_id": notice.id},
        follow_redirects=True,
    )
    assert "not sent twice" in again.get_data(as_text=True)
    assert kinds_sent(invoice) == ["reminder"]
    other_schedule_step = client.post(
        f"/admin/invoices/{invoice.id}/send-step",
        data={"csrf_token": token, "step_id": 999999},
        follow_redirects=True,
    )
    assert "Choose a step of this debtor's schedule." in other_schedule_step.get_data(True)
