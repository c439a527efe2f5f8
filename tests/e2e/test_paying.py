"""Paying in real Chromium with the sandbox: two invoices at once; a failure, then the
second-chance mail over SMTP and its pay-link."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from portal import runtime
from portal.db import db
from portal.domain.payments import second_chance, service
from portal.tasks import send_outbox_now
from tests.conftest import body_text
from tests.e2e.test_portal_journey import sign_in
from tests.factories import business_today, create_brand, create_debtor, create_invoice

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TODAY = business_today()


@pytest.fixture(scope="module")
def carla(live_server):
    brand = create_brand(name="Fietsenmaker Gent", primary_color="#1d4ed8")
    debtor = create_debtor(
        brand, emails=["carla@example.com"], name="Carla Peeters", language="en", country="BE"
    )
    for number, cents, days in (("FG-101", 12000, 40), ("FG-102", 3550, 20), ("FG-103", 990, 5)):
        create_invoice(
            debtor,
            number=number,
            total_cents=cents,
            invoice_date=TODAY - dt.timedelta(days=days + 14),
            due_date=TODAY - dt.timedelta(days=days),
        )
    return debtor


def test_select_two_invoices_pay_them_then_a_failure_gets_a_second_chance(
    page: Page, app, live_server, carla, inbox
):
    base = live_server
    sign_in(page, base, inbox, "carla@example.com")
    page.goto(f"{base}/invoices")
    page.get_by_label("Select invoice FG-101 to pay").check()
    page.get_by_label("Select invoice FG-102 to pay").check()
    expect(page.locator("#pay-bar")).to_contain_text("2 invoices selected")
    expect(page.locator("#pay-bar")).to_contain_text("€155.50")
    page.get_by_role("button", name="Pay selected invoices").click()

    expect(page.get_by_role("heading", name="Pay 2 invoices")).to_be_visible()
    methods = page.get_by_role("radio")
    expect(methods.first).to_have_accessible_name("Bancontact")  # a Belgian debtor
    page.get_by_role("button", name="Pay €155.50").click()

    expect(page.get_by_text("Sandbox: test payments")).to_be_visible()
    page.get_by_label("Paid").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, your payment was received")).to_be_visible()
    receipt = inbox.wait_for("carla@example.com")
    assert "€155.50" in str(receipt["Subject"])

    page.goto(f"{base}/invoices?status=paid")
    expect(page.get_by_role("link", name="FG-101")).to_be_visible()
    expect(page.get_by_role("link", name="FG-102")).to_be_visible()

    # the last invoice: the payment fails
    inbox.clear()
    page.goto(f"{base}/invoices")
    page.get_by_role("link", name="FG-103").click()
    page.get_by_role("button", name="Pay €9.90").click()  # the invoice page's button
    expect(page.get_by_role("heading", name="Pay 1 invoice")).to_be_visible()
    page.get_by_role("button", name="Pay €9.90").click()
    page.get_by_label("Failed").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="The payment did not go through")).to_be_visible()

    # an hour later the worker sends the second chance (run here at that later clock)
    with app.app_context():
        later = service.utcnow() + dt.timedelta(minutes=61)
        assert second_chance.send_due(db.session(), runtime.mails(), now=later) == 1
        db.session.commit()
        send_outbox_now()
        db.session.remove()
    mail = inbox.wait_for("carla@example.com")
    link = re.search(r"http://\S+/p/\S+", body_text(mail)).group(0)

    page.context.clear_cookies()  # a pay-link needs no login
    page.goto(link)
    expect(page.get_by_role("heading", name="Payment to Fietsenmaker Gent")).to_be_visible()
    expect(page.get_by_text("Carla")).to_have_count(0)
    page.get_by_label("iDEAL").check()
    page.get_by_role("button", name="Pay €9.90").click()
    page.get_by_label("Paid").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, your payment was received")).to_be_visible()
    page.goto(link)
    expect(page.get_by_role("heading", name="Already paid")).to_be_visible()
