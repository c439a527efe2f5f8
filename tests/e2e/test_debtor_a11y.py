"""The debtor's pages under axe-core at WCAG 2.2 AA, at 1280 and 360 px; in Chromium.

The walk visits every page a debtor can reach: signing in, the overview, the invoice
list with its filters, an invoice, paying (the hand-off, a failure, a receipt), the
payments, requests, a payment plan, the contact details and the error pages. Any
violation fails the suite.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from portal.db import db
from portal.domain import requests as req
from portal.domain.payments import paylinks
from portal.mails import RequestMails
from portal.models import Payment
from tests.e2e.axe import assert_accessible
from tests.factories import business_today, create_brand, create_debtor, create_invoice

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TODAY = business_today()
WIDTHS = (1280, 360)


@pytest.fixture(scope="module")
def walker(live_server, app):
    brand = create_brand(name="Drukkerij Walvis", primary_color="#9d174d")
    debtor = create_debtor(brand, emails=["wim@example.com"], name="Wim Walvis", language="en")
    invoices = []
    for i in range(28):  # more than one page of 25
        days = 40 - i * 3
        invoices.append(
            create_invoice(
                debtor,
                number=f"DW-{100 + i}",
                total_cents=5000 + 137 * i,
                invoice_date=TODAY - dt.timedelta(days=days + 14),
                due_date=TODAY - dt.timedelta(days=days),
                description=f"Drukwerk order {i}",
            )
        )
    create_invoice(debtor, number="DW-099", total_cents=4500, open_cents=0, status="paid")
    mails = RequestMails(app.config["SETTINGS"])
    question = req.ask(db.session(), debtor.id, invoices[3], "Is this the right address?", "debtor")
    db.session.flush()
    link = paylinks.create(db.session(), debtor, invoices[5:6], actor="admin:1")
    with app.test_request_context():
        req.reply(db.session(), question, "Yes, it is.", "admin:1", mails)
        db.session.commit()  # inside: the context's end removes the session
        token = paylinks.token(link, app.config["SETTINGS"].secret_key)
        ids = {inv.number: inv.id for inv in invoices}
        question_id = question.id
    return {"ids": ids, "token": token, "question": question_id}


def _without_refresh(route: Route) -> None:
    response = route.fetch()
    body = re.sub(r'<meta http-equiv="refresh"[^>]*>', "", response.text())
    route.fulfill(response=response, body=body)


def check(page: Page, where: str) -> None:
    """axe at both widths; the page is left at 1280 px."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"{where} at {width} px")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_every_debtor_page_passes_axe_at_wcag_22_aa(page: Page, live_server, walker, inbox):
    base, ids = live_server, walker["ids"]
    page.goto(f"{base}/login")
    check(page, "login")
    page.goto(f"{base}/p/{walker['token']}")
    expect(page.get_by_role("heading", name="Payment to Drukkerij Walvis")).to_be_visible()
    check(page, "pay-link")
    page.goto(f"{base}/p/not-a-token")
    check(page, "pay-link problem")
    page.goto(f"{base}/no-such-page")
    check(page, "404 signed out")

    inbox.clear()
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill("wim@example.com")
    page.get_by_role("button", name="Send me a login link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    check(page, "login link sent")
    from tests.conftest import link_in

    page.goto(link_in(inbox.wait_for("wim@example.com")))
    check(page, "continue")
    page.get_by_role("button", name="Continue to your invoices").click()
    expect(page).to_have_url(f"{base}/overview")
    check(page, "overview")

    page.goto(f"{base}/invoices")
    check(page, "invoices")
    page.get_by_label("Select invoice DW-100 to pay").check()
    expect(page.locator("#pay-bar")).to_contain_text("1 invoice selected")
    check(page, "invoices with a tick")
    for query in ("status=paid", "status=all&q=DW-10", "sort=amount&dir=desc", "page=2"):
        page.goto(f"{base}/invoices?{query}")
        check(page, f"invoices?{query}")
    page.goto(f"{base}/invoices?q=nothing-like-this")
    check(page, "invoices without results")
    page.goto(f"{base}/invoices/{ids['DW-100']}")
    check(page, "invoice detail")

    page.goto(f"{base}/pay?invoice={ids['DW-100']}")
    check(page, "pay page")
    page.get_by_role("button", name="Pay €50.00").click()
    expect(page.get_by_text("Sandbox: test payments")).to_be_visible()
    check(page, "sandbox checkout")
    # the hand-off page moves on by itself: opened again without its refresh to be checked
    public_id = db.session.scalars(select(Payment.public_id).order_by(Payment.id.desc())).first()
    db.session.remove()
    page.route("**/pay/go/**", _without_refresh)
    page.goto(f"{base}/pay/go/{public_id}")
    expect(page.get_by_role("heading", name="To the payment page")).to_be_visible()
    check(page, "hand-off to the provider")
    page.unroute("**/pay/go/**")
    page.get_by_role("button", name="Continue to the payment").click()
    expect(page.get_by_text("Sandbox: test payments")).to_be_visible()
    page.get_by_label("Failed").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="The payment did not go through")).to_be_visible()
    check(page, "payment failed")
    expect(page.get_by_text("Prefer a bank transfer?")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for the transfer")).to_be_visible()
    page.get_by_label("Bancontact").check()  # another method, on the same page
    page.get_by_role("button", name="Pay €50.00").click()
    page.get_by_label("Paid").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, your payment was received")).to_be_visible()
    check(page, "payment received")
    page.goto(f"{base}/payments")
    expect(page.get_by_role("link", name=re.compile("Receipt \\(PDF\\)"))).to_be_visible()
    check(page, "payments")
    page.goto(f"{base}/pay?invoice=999999")
    check(page, "pay refused")

    page.goto(f"{base}/requests")
    check(page, "my requests")
    page.goto(f"{base}/requests/{walker['question']}")
    expect(page.get_by_text("Yes, it is.")).to_be_visible()
    check(page, "request with an answer")
    page.goto(f"{base}/requests/question")
    check(page, "question form")
    page.get_by_role("button", name="Send question").click()
    check(page, "question form with an error")
    page.goto(f"{base}/invoices/{ids['DW-101']}/dispute")
    check(page, "dispute form")
    page.goto(f"{base}/invoices/{ids['DW-102']}/promise")
    check(page, "promise form")
    page.goto(f"{base}/requests/contact")
    check(page, "contact details")

    page.goto(f"{base}/plans/new")
    check(page, "plan request")
    page.get_by_label("Number of instalments").fill("3")
    page.get_by_label("Number of instalments").press("Tab")
    expect(page.locator("#plan-preview").get_by_role("row")).to_have_count(4)
    check(page, "plan request with a preview")
    page.get_by_label("I agree to this payment plan.").check()
    page.get_by_role("button", name="Agree to the plan").click()
    expect(page.get_by_role("heading", name="Payment plan")).to_be_visible()
    check(page, "plan detail")
    page.goto(f"{base}/overview")
    expect(page.get_by_role("button", name="Pay instalment 1")).to_be_visible()
    check(page, "overview with a plan")
    page.goto(f"{base}/invoices/{ids['DW-101']}")
    check(page, "invoice in a plan")

    page.goto(f"{base}/invoices/999999")
    check(page, "404 signed in")

    page.get_by_role("banner").get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/login")
    check(page, "signed out")
