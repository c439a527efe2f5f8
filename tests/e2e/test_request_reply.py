"""Requests are conversations: a debtor reads the answer and replies, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.db import db
from portal.domain import requests as req
from portal.mails import RequestMails
from portal.models import DebtorRequest
from tests.e2e.axe import assert_accessible
from tests.e2e.test_portal_journey import sign_in
from tests.factories import business_today, create_brand, create_debtor, create_invoice

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def fenna(live_server, app):
    brand = create_brand(name="Fietsverhuur Fenna", primary_color="#0f766e")
    debtor = create_debtor(brand, emails=["fenna@example.com"], name="Fenna Fiets", language="en")
    invoice = create_invoice(debtor, number="FF-12", total_cents=4500, due_date=business_today())
    question = req.ask(db.session(), debtor.id, invoice, "Why two bikes?", f"debtor:{debtor.id}")
    db.session.flush()
    with app.test_request_context():
        req.reply(
            db.session(),
            question,
            "You rented two bikes on 3 May.",
            "admin:1",
            RequestMails(app.config["SETTINGS"]),
        )
        db.session.commit()  # inside: the context's end removes the session
        request_id = question.id
    db.session.remove()
    return request_id


def test_a_debtor_replies_to_an_answer(page: Page, live_server, fenna, inbox):
    base = live_server
    sign_in(page, base, inbox, "fenna@example.com")
    page.get_by_role("link", name="My requests").first.click()
    page.get_by_role("link", name="Question").first.click()
    conversation = page.get_by_role("list").filter(has_text="Why two bikes?")
    expect(conversation.get_by_role("listitem")).to_have_count(2)
    expect(conversation.get_by_role("listitem").last).to_contain_text("You rented two bikes")
    assert_accessible(page, "a request with an answer")
    page.get_by_label("Your reply").fill("One was my neighbour's; she paid for it herself.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_contain_text("We have your reply")
    expect(conversation.get_by_role("listitem")).to_have_count(3)
    expect(conversation.get_by_role("listitem").last).to_contain_text("my neighbour's")
    expect(conversation.get_by_role("listitem").last).to_contain_text("You")
    assert_accessible(page, "the conversation")

    db.session.expire_all()
    request = db.session.get(DebtorRequest, fenna)
    assert request.state == "open"  # back in the inbox for an answer
    assert db.session.scalars(select(DebtorRequest)).all() == [request]
    db.session.remove()
