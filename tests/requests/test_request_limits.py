"""A debtor cannot keep reminders paused for ever by promising or disputing again and again:
past the limits a request goes to the inbox for an admin's decision while reminders go on,
and the debtor is told so in words."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import db
from portal.models import DebtorRequest, Invoice
from tests.conftest import csrf, english_client, login_as
from tests.factories import create_debtor
from tests.requests.test_requests import _today, admin, decide, dispute, due_ids, overdue_invoice


def promise(client, invoice, day):
    token = csrf(client, f"/invoices/{invoice.id}/promise")
    return client.post(
        f"/invoices/{invoice.id}/promise",
        data={"csrf_token": token, "pay_by": day.isoformat()},
        follow_redirects=True,
    )


def hold_of(invoice):
    db.session.expire_all()
    held = db.session.get(Invoice, invoice.id)
    return held.hold_reason, held.hold_until


def test_a_third_promise_waits_for_an_admin_while_reminders_go_on(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue_invoice(debtor)
    day = _today(app)
    login_as(client, debtor)
    for n, days in enumerate((10, 20), start=1):  # the first promise and one new date
        answer = promise(client, invoice, day + dt.timedelta(days=days))
        assert "We will not send reminders for this invoice until then." in answer.get_data(
            as_text=True
        ), n
        assert hold_of(invoice) == ("promise", day + dt.timedelta(days=days))

    # the warning shows before sending, and the answer says it again
    form = client.get(f"/invoices/{invoice.id}/promise").get_data(as_text=True)
    assert "You have already postponed this invoice twice" in form
    third_day = day + dt.timedelta(days=30)
    page = promise(client, invoice, third_day).get_data(as_text=True)
    assert "reminders continue until we have looked at your promise" in page
    assert hold_of(invoice) == ("promise", day + dt.timedelta(days=20))  # not pushed further
    assert invoice.id in due_ids(day + dt.timedelta(days=21))  # reminders resume as before
    third = db.session.scalars(select(DebtorRequest).order_by(DebtorRequest.id.desc())).first()
    assert third.state == "open" and third.awaits_pause_decision
    detail = client.get(f"/requests/{third.id}").get_data(as_text=True)
    assert "Reminders for this invoice continue until we have looked at this." in detail

    # an admin sees why, and accepting the promise pauses reminders until its day
    staff = english_client(app)
    admin(staff)
    inbox = staff.get("/admin/requests").get_data(as_text=True)
    assert "Reminders continue: decide" in inbox
    shown = staff.get(f"/admin/requests/{third.id}").get_data(as_text=True)
    assert "does not pause reminders by itself" in shown
    assert decide(staff, third.id, outcome="resolved", answer="Fine, one last time.").status_code
    assert hold_of(invoice) == ("promise", third_day)
    db.session.expire_all()
    assert db.session.get(DebtorRequest, third.id).outcome == "accepted"


def test_only_the_first_dispute_of_an_invoice_pauses_reminders(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue_invoice(debtor)
    day = _today(app)
    login_as(client, debtor)
    assert dispute(client, invoice).status_code == 303
    assert hold_of(invoice) == ("dispute", None)
    first = db.session.scalars(select(DebtorRequest)).one()
    staff = english_client(app)
    admin(staff)
    decide(staff, first.id, outcome="uphold", answer="The amount is right.")
    assert invoice.id in due_ids(day)

    # disputing again after the decision no longer holds reminders back by itself
    form = client.get(f"/invoices/{invoice.id}/dispute").get_data(as_text=True)
    assert "This invoice was disputed before." in form
    again = dispute(client, invoice, {"message": "Still wrong"})
    assert again.status_code == 303
    told = client.get("/requests").get_data(as_text=True)
    assert "reminders continue until we have looked at your dispute" in told
    assert hold_of(invoice) == ("", None) and invoice.id in due_ids(day)
    second = db.session.scalars(select(DebtorRequest).order_by(DebtorRequest.id.desc())).first()
    assert second.state == "open" and second.awaits_pause_decision
    assert "the invoice was disputed before" in staff.get(f"/admin/requests/{second.id}").get_data(
        as_text=True
    )
    # the admin still decides it as any dispute
    decide(staff, second.id, outcome="uphold", answer="Still right.")
    db.session.expire_all()
    assert db.session.get(DebtorRequest, second.id).state == "rejected"


def test_the_limits_count_per_invoice_and_a_rejected_extra_promise_changes_nothing(
    app, client, segment
):
    debtor = create_debtor(segment_id=segment.id)
    first, other = overdue_invoice(debtor), overdue_invoice(debtor)
    day = _today(app)
    login_as(client, debtor)
    for days in (5, 10, 15):
        promise(client, first, day + dt.timedelta(days=days))
    assert hold_of(first) == ("promise", day + dt.timedelta(days=10))
    promise(client, other, day + dt.timedelta(days=7))  # another invoice has its own count
    assert hold_of(other) == ("promise", day + dt.timedelta(days=7))

    extra = db.session.scalars(
        select(DebtorRequest)
        .where(DebtorRequest.invoice_id == first.id)
        .order_by(DebtorRequest.id.desc())
    ).first()
    staff = english_client(app)
    admin(staff)
    decide(staff, extra.id, outcome="rejected", answer="Please pay now.")
    assert hold_of(first) == ("", None) and first.id in due_ids(day)
    assert hold_of(other) == ("promise", day + dt.timedelta(days=7))
