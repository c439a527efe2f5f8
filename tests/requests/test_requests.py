"""Debtor requests: the state table, disputes with attachments, promises, questions,
contact changes with a confirmed email, the admin inbox, and who may see what."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain import requests as req
from portal.domain.clock import today
from portal.domain.dunning import engine
from portal.models import (
    DebtorRequest,
    Invoice,
    OutboxMessage,
    RequestAttachment,
    RequestEvent,
)
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import body_text, csrf, english_client, login_as
from tests.dunning.test_engine import DUE
from tests.factories import create_admin, create_debtor, create_invoice

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200


def _today(app):
    return today(app.config["SETTINGS"].portal_timezone)


def due_ids(day):
    return {d.invoice_id for d in engine.due_steps(db.session(), day)}


def overdue_invoice(debtor, **kw):
    return create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE, **kw)


def dispute(client, invoice, data=None, file=None):
    token = csrf(client, f"/invoices/{invoice.id}/dispute")
    form = {"csrf_token": token, "reason": "amount_wrong", "message": "Twice billed"}
    form.update(data or {})
    if file is not None:
        form["attachment"] = file
    return client.post(
        f"/invoices/{invoice.id}/dispute", data=form, content_type="multipart/form-data"
    )


def admin(client, email="clerk@example.com"):
    create_admin(email, role="clerk")
    admin_login(client, email)


def decide(client, item_id, **data):
    token = page_csrf(client, f"/admin/requests/{item_id}")
    return client.post(f"/admin/requests/{item_id}/decide", data={"csrf_token": token, **data})


# ----------------------------------------------------------------------- state table
def test_state_table_allows_only_listed_moves(app):
    debtor = create_debtor()
    item = DebtorRequest(kind="question", debtor_id=debtor.id, message="?", state="open")
    db.session.add(item)
    assert req.move(db.session(), item, "answered", "admin:1")
    assert not req.move(db.session(), item, "answered", "admin:1")  # already there
    assert req.move(db.session(), item, "open", "debtor:1")
    assert req.move(db.session(), item, "resolved", "admin:1")
    assert item.closed and item.closed_at is not None
    for new in ("open", "answered", "rejected"):
        with pytest.raises(req.IllegalTransition):
            req.move(db.session(), item, new, "admin:1")
    assert [e.state for e in item.events] == ["answered", "open", "resolved"]


def test_every_state_is_in_the_table_and_closed_states_are_final():
    assert req.MOVES.states == {"open", "answered", "resolved", "rejected"}
    assert req.MOVES.is_final("resolved") and req.MOVES.is_final("rejected")


# ------------------------------------------------------------------------ attachments
@pytest.mark.parametrize(
    ("data", "mime"),
    [(PDF, "application/pdf"), (PNG, "image/png"), (b"\xff\xd8\xff\xe0x", "image/jpeg")],
)
def test_attachments_are_judged_by_content(data, mime):
    assert req.attachment_type(data) == mime


@pytest.mark.parametrize("data", [EXE, b"", b"<html>%PDF-", b"%PDF-" + b"0" * req.MAX_ATTACHMENT])
def test_other_or_oversized_files_are_refused(data):
    with pytest.raises(req.RequestRefused):
        req.attachment_type(data)


def test_a_renamed_executable_is_refused_and_nothing_is_held(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue_invoice(debtor)
    login_as(client, debtor)
    response = dispute(client, invoice, file=(io.BytesIO(EXE), "invoice.pdf", "application/pdf"))
    assert response.status_code == 422
    assert "Only PDF, JPEG and PNG files can be added." in response.get_data(as_text=True)
    assert db.session.scalars(select(DebtorRequest)).all() == []
    assert db.session.get(Invoice, invoice.id).hold_reason == ""


def test_an_oversized_file_is_refused(app, client):
    debtor = create_debtor()
    invoice = overdue_invoice(debtor)
    login_as(client, debtor)
    big = PDF + b"0" * req.MAX_ATTACHMENT
    response = dispute(client, invoice, file=(io.BytesIO(big), "big.pdf", "application/pdf"))
    assert response.status_code == 422
    assert "larger than 5 MB" in response.get_data(as_text=True)
    assert db.session.scalars(select(DebtorRequest)).all() == []


# --------------------------------------------------------------------------- disputes
def test_dispute_pauses_reminders_and_uphold_resumes_them(app, client, segment, inbox):
    debtor = create_debtor(segment_id=segment.id, emails=["piet@example.com"])
    invoice = overdue_invoice(debtor)
    day = DUE + dt.timedelta(days=30)
    assert invoice.id in due_ids(day)
    login_as(client, debtor)
    response = dispute(client, invoice, file=(io.BytesIO(PDF), "proof.pdf", "application/pdf"))
    assert response.status_code == 303 and response.headers["Location"] == "/requests"
    item = db.session.scalars(select(DebtorRequest)).one()
    assert (item.kind, item.state, item.reason, item.invoice_id) == (
        "dispute",
        "open",
        "amount_wrong",
        invoice.id,
    )
    assert [a.mime for a in item.attachments] == ["application/pdf"]
    assert db.session.get(Invoice, invoice.id).hold_reason == "dispute"
    assert invoice.id not in due_ids(day)
    assert "Received" in client.get("/requests").get_data(as_text=True)

    staff = english_client(app)
    admin(staff)
    response = decide(staff, item.id, outcome="uphold", answer="The amount is right.")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(DebtorRequest, item.id).state == "rejected"
    assert invoice.id in due_ids(day)
    mail = inbox.wait_for("piet@example.com")
    assert "The amount is right." in body_text(mail)
    assert "Closed, not granted" in client.get("/requests").get_data(as_text=True)


def test_a_partial_credit_lowers_the_open_amount_with_a_credit_note(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue_invoice(debtor, total_cents=12100)
    login_as(client, debtor)
    dispute(client, invoice)
    item = db.session.scalars(select(DebtorRequest)).one()
    staff = english_client(app)
    admin(staff)
    decide(staff, item.id, outcome="credit", credit="150,00", answer="Too much")  # > open
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).open_cents == 12100
    decide(staff, item.id, outcome="credit", credit="21,00", answer="We credit the extra hour.")
    db.session.expire_all()
    fresh = db.session.get(Invoice, invoice.id)
    assert (fresh.open_cents, fresh.status, fresh.hold_reason) == (10000, "open", "")
    note = db.session.scalars(select(Invoice).where(Invoice.kind == "credit_note")).one()
    assert (note.total_cents, note.open_cents, note.debtor_id) == (-2100, 0, debtor.id)
    assert db.session.get(DebtorRequest, item.id).state == "resolved"
    # the rest of the invoice follows the reminders again
    assert invoice.id in due_ids(DUE + dt.timedelta(days=30))
    # the debtor sees what happened: the credit note's number and amount, and its PDF
    page = client.get(f"/requests/{item.id}").get_data(as_text=True)
    assert f"Settled with credit note {note.number} of €21.00." in page
    assert f"/invoices/{note.id}/pdf" in page
    assert client.get(f"/invoices/{note.id}/pdf").data.startswith(b"%PDF")
    assert "Send reply" not in page  # closed: a new question instead


def test_a_debtor_replies_and_the_request_opens_again(app, client):
    debtor = create_debtor(language="en")
    item = req.ask(db.session(), debtor.id, None, "When is my next invoice?", "debtor")
    db.session.flush()
    req.move(db.session(), item, "answered", "admin:1", "In May.")
    login_as(client, debtor)
    token = csrf(client, f"/requests/{item.id}")
    empty = client.post(f"/requests/{item.id}", data={"csrf_token": token, "message": " "})
    assert empty.status_code == 422 and "Write your reply." in empty.get_data(as_text=True)
    sent = client.post(f"/requests/{item.id}", data={"csrf_token": token, "message": "Thanks!"})
    assert sent.status_code == 303
    db.session.expire_all()
    assert db.session.get(DebtorRequest, item.id).state == "open"
    assert "Thanks!" in client.get(f"/requests/{item.id}").get_data(as_text=True)
    stranger = english_client(app)
    login_as(stranger, create_debtor())
    token = csrf(stranger, "/requests")
    other = stranger.post(f"/requests/{item.id}", data={"csrf_token": token, "message": "Hi"})
    assert other.status_code == 404


def test_a_full_credit_settles_and_cancel_cancels(app, client):
    debtor = create_debtor()
    first, second = overdue_invoice(debtor), overdue_invoice(debtor)
    login_as(client, debtor)
    dispute(client, first)
    dispute(client, second)
    one, two = db.session.scalars(select(DebtorRequest).order_by(DebtorRequest.id)).all()
    staff = english_client(app)
    admin(staff)
    decide(staff, one.id, outcome="credit", credit="121,00", answer="Credited in full.")
    decide(staff, two.id, outcome="cancel", answer="Cancelled.")
    db.session.expire_all()
    assert db.session.get(Invoice, first.id).status == "paid"
    assert db.session.get(Invoice, first.id).open_cents == 0
    assert db.session.get(Invoice, second.id).status == "cancelled"
    # a decided request cannot be decided again
    assert decide(staff, two.id, outcome="uphold", answer="again").status_code == 409


def test_the_same_invoice_is_not_disputed_twice(app, client):
    debtor = create_debtor()
    invoice = overdue_invoice(debtor)
    login_as(client, debtor)
    assert dispute(client, invoice).status_code == 303
    again = dispute(client, invoice)
    assert again.status_code == 422 and "already disputed" in again.get_data(as_text=True)


# --------------------------------------------------------------------------- promises
def test_a_promise_holds_reminders_until_its_day(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue_invoice(debtor)
    day = _today(app)
    login_as(client, debtor)
    token = csrf(client, f"/invoices/{invoice.id}/promise")
    too_late = day + dt.timedelta(days=req.PROMISE_MAX_DAYS + 1)
    response = client.post(
        f"/invoices/{invoice.id}/promise",
        data={"csrf_token": token, "pay_by": too_late.isoformat()},
    )
    assert response.status_code == 422
    until = day + dt.timedelta(days=10)
    response = client.post(
        f"/invoices/{invoice.id}/promise", data={"csrf_token": token, "pay_by": until.isoformat()}
    )
    assert response.status_code == 303
    held = db.session.get(Invoice, invoice.id)
    assert (held.hold_reason, held.hold_until) == ("promise", until)
    assert invoice.id not in due_ids(until)
    assert invoice.id in due_ids(until + dt.timedelta(days=1))  # broken: the hold lapses
    item = db.session.scalars(select(DebtorRequest)).one()
    assert not req.broken_promise(item, until)
    assert req.broken_promise(item, until + dt.timedelta(days=1))


def test_a_broken_promise_shows_in_admin(app, client):
    debtor = create_debtor()
    invoice = overdue_invoice(debtor)
    item = DebtorRequest(
        kind="promise",
        debtor_id=debtor.id,
        invoice_id=invoice.id,
        promise_date=_today(app) - dt.timedelta(days=2),
    )
    db.session.add(item)
    db.session.commit()
    staff = english_client(app)
    admin(staff)
    assert "Promise broken" in staff.get("/admin/requests").get_data(as_text=True)
    assert "Promise broken" in staff.get(f"/admin/requests/{item.id}").get_data(as_text=True)


# ------------------------------------------------------------------ questions, inbox
def test_question_reply_and_close_through_the_inbox(app, client, inbox):
    debtor = create_debtor(emails=["vraag@example.com"])
    invoice = overdue_invoice(debtor)
    login_as(client, debtor)
    token = csrf(client, "/requests/question")
    response = client.post(
        "/requests/question",
        data={"csrf_token": token, "invoice_id": str(invoice.id), "message": "Can I pay later?"},
    )
    assert response.status_code == 303
    item = db.session.scalars(select(DebtorRequest)).one()
    assert (item.kind, item.invoice_id) == ("question", invoice.id)

    staff = english_client(app)
    admin(staff, "boss@example.com")
    page = staff.get("/admin/requests?kind=question").get_data(as_text=True)
    assert f"/admin/requests/{item.id}" in page
    assert f"/admin/requests/{item.id}" not in staff.get("/admin/requests?kind=dispute").get_data(
        as_text=True
    )
    assert "Question: <strong>1</strong>" in staff.get("/admin/").get_data(as_text=True)
    assert db.session.scalars(select(RequestEvent.action)).all() == ["created"]
    token = page_csrf(staff, f"/admin/requests/{item.id}")
    from portal.models import AdminUser

    boss = db.session.scalars(select(AdminUser)).one()
    staff.post(
        f"/admin/requests/{item.id}/assign", data={"csrf_token": token, "admin_id": str(boss.id)}
    )
    assert f"/admin/requests/{item.id}" in staff.get("/admin/requests?assigned=me").get_data(
        as_text=True
    )
    staff.post(
        f"/admin/requests/{item.id}/reply",
        data={"csrf_token": token, "answer": "Yes, until the end of the month."},
    )
    mail = inbox.wait_for("vraag@example.com")
    assert "Yes, until the end of the month." in body_text(mail)
    db.session.expire_all()
    assert db.session.get(DebtorRequest, item.id).state == "answered"
    detail = client.get(f"/requests/{item.id}").get_data(as_text=True)
    assert "Yes, until the end of the month." in detail and "Answered" in detail
    decide(staff, item.id, outcome="resolved", answer="Glad to help.")
    db.session.expire_all()
    assert db.session.get(DebtorRequest, item.id).state == "resolved"
    assert f"/admin/requests/{item.id}" not in staff.get("/admin/requests").get_data(as_text=True)


# ------------------------------------------------------------------- contact changes
def test_phone_changes_at_once_email_only_after_its_link_used_once(app, client, inbox):
    debtor = create_debtor(emails=["oud@example.com"], phone="")
    login_as(client, debtor)
    token = csrf(client, "/requests/contact")
    response = client.post(
        "/requests/contact",
        data={"csrf_token": token, "email": "Nieuw@Example.com", "phone": "06 1234 5678"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    fresh = db.session.get(type(debtor), debtor.id)
    assert fresh.phone == "+31612345678"  # stored in E.164, as SMS reminders need it
    assert fresh.primary_email == "oud@example.com"  # not yet
    mail = inbox.wait_for("nieuw@example.com")
    link = re.search(r"https?://\S+/contact/confirm/[A-Za-z0-9_-]+", body_text(mail)).group(0)
    path = link.split("portal.test", 1)[1]
    page = english_client(app)
    assert page.get(path).status_code == 200  # a GET (a mail scanner) changes nothing
    db.session.expire_all()
    assert db.session.get(type(debtor), debtor.id).primary_email == "oud@example.com"
    form_token = csrf(page, path)
    assert page.post(path, data={"csrf_token": form_token}).status_code == 200
    db.session.expire_all()
    assert db.session.get(type(debtor), debtor.id).primary_email == "nieuw@example.com"
    assert page.post(path, data={"csrf_token": form_token}).status_code == 410  # once
    assert page.get(path).status_code == 410
    item = db.session.scalars(select(DebtorRequest)).one()
    assert (item.kind, item.state) == ("contact_change", "resolved")


def test_a_forged_confirmation_link_does_nothing(app):
    page = english_client(app)
    assert page.get("/contact/confirm/" + "A" * 43).status_code == 410


# ----------------------------------------------------------------- who may see what
def test_another_debtor_cannot_see_or_act_on_requests_or_invoices(app, client):
    alice = create_debtor(emails=["alice@example.com"])
    bob = create_debtor(emails=["bob@example.com"])
    hers = overdue_invoice(alice)
    login_as(client, alice)
    dispute(client, hers, file=(io.BytesIO(PNG), "photo.png", "image/png"))
    item = db.session.scalars(select(DebtorRequest)).one()
    attachment = db.session.scalars(select(RequestAttachment)).one()

    other = english_client(app)
    login_as(other, bob)
    token = csrf(other, "/requests")
    for path in (
        f"/invoices/{hers.id}/dispute",
        f"/invoices/{hers.id}/promise",
        f"/requests/{item.id}",
    ):
        assert other.get(path).status_code == 404, path
    assert (
        other.post(
            f"/invoices/{hers.id}/dispute",
            data={"csrf_token": token, "reason": "other", "message": "x"},
        ).status_code
        == 404
    )
    assert (
        other.post(
            f"/invoices/{hers.id}/promise",
            data={"csrf_token": token, "pay_by": _today(app).isoformat()},
        ).status_code
        == 404
    )
    # her invoice is not among his choices: the question is refused, nothing stored
    response = other.post(
        "/requests/question",
        data={"csrf_token": token, "invoice_id": str(hers.id), "message": "Whose?"},
    )
    assert response.status_code == 422
    assert (
        db.session.scalars(select(DebtorRequest).where(DebtorRequest.debtor_id == bob.id)).all()
        == []
    )
    assert f"/requests/{item.id}" not in other.get("/requests").get_data(as_text=True)
    assert hers.number not in other.get("/requests").get_data(as_text=True)
    # attachments: admins only, never debtors, never anonymous
    file_path = f"/admin/requests/{item.id}/attachments/{attachment.id}"
    for browser in (client, other, english_client(app)):
        assert browser.get(file_path).status_code == 302
    staff = english_client(app)
    admin(staff)
    response = staff.get(file_path)
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert (
        staff.get(f"/admin/requests/{item.id + 1}/attachments/{attachment.id}").status_code == 404
    )
    # the admin pages themselves need an admin
    for path in ("/admin/requests", f"/admin/requests/{item.id}"):
        assert other.get(path).status_code == 302


def test_request_pages_need_a_login(app):
    anonymous = english_client(app)
    for path in (
        "/requests",
        "/requests/1",
        "/requests/question",
        "/requests/contact",
        "/invoices/1/dispute",
        "/invoices/1/promise",
    ):
        assert anonymous.get(path).status_code == 302, path


def test_forms_refuse_a_post_without_csrf(app, client):
    debtor = create_debtor()
    invoice = overdue_invoice(debtor)
    login_as(client, debtor)
    assert (
        client.post(
            f"/invoices/{invoice.id}/dispute", data={"reason": "other", "message": "x"}
        ).status_code
        == 400
    )
    assert client.post("/requests/question", data={"message": "x"}).status_code == 400
    assert client.post("/requests/contact", data={"phone": "+31600000000"}).status_code == 400
    assert db.session.scalars(select(DebtorRequest)).all() == []
    staff = english_client(app)
    admin(staff)
    item = DebtorRequest(kind="question", debtor_id=debtor.id, message="?")
    db.session.add(item)
    db.session.commit()
    for action in ("reply", "decide", "assign"):
        assert (
            staff.post(f"/admin/requests/{item.id}/{action}", data={"answer": "x"}).status_code
            == 400
        )
    assert (
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "request_update")
        ).all()
        == []
    )


def test_contact_changes_are_rate_limited_per_debtor(app, client):
    debtor = create_debtor(emails=["rate@example.com"])
    login_as(client, debtor)
    token = csrf(client, "/requests/contact")
    codes = [
        client.post(
            "/requests/contact", data={"csrf_token": token, "email": f"n{n}@example.com"}
        ).status_code
        for n in range(6)
    ]
    assert codes == [303] * 5 + [429]


def test_a_phone_number_that_is_no_number_is_refused_and_nothing_changes(app, client):
    debtor = create_debtor(emails=["tel@example.com"], phone="+31612345678")
    login_as(client, debtor)
    token = csrf(client, "/requests/contact")
    response = client.post("/requests/contact", data={"csrf_token": token, "phone": "12"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(type(debtor), debtor.id).phone == "+31612345678"


def test_the_inbox_pages_fifty_at_a_time_and_keeps_its_filter(app, client):
    debtor = create_debtor()
    db.session.add_all(
        DebtorRequest(kind="question", debtor_id=debtor.id, message=f"Vraag {n:02d}", state="open")
        for n in range(51)
    )
    db.session.add(DebtorRequest(kind="plan", debtor_id=debtor.id, message="x", state="open"))
    db.session.commit()
    admin(client)
    first = client.get("/admin/requests?kind=question").get_data(as_text=True)
    assert first.count("/admin/requests/") - first.count("/admin/requests/?") >= 50
    assert 'href="/admin/requests?kind=question&amp;state=active&amp;page=2"' in first
    assert 'rel="prev"' not in first
    second = client.get("/admin/requests?kind=question&state=active&page=2")
    html = second.get_data(as_text=True)
    rows = db.session.scalars(
        select(DebtorRequest).where(DebtorRequest.kind == "question").order_by(DebtorRequest.id)
    ).all()
    assert f"/admin/requests/{rows[-1].id}" in html  # the 51st, the youngest
    assert f'/admin/requests/{rows[-1].id}"' not in first
    assert f'/admin/requests/{rows[0].id}"' not in html
    assert 'rel="prev"' in html and 'rel="next"' not in html
