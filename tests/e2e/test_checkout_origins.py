"""Paying through Mollie and Stripe in real Chromium, with their checkouts on another origin.

The stand-ins of `tests/payments/stubs.py` run on their own port: another origin than the
app's, as www.mollie.com and checkout.stripe.com are. The app's official SDKs talk to them
through MOLLIE_API_URL / STRIPE_API_URL, and the browser pays on their checkout pages.
Browsers apply the pay page's CSP `form-action` to the redirects that follow its form, so
these tests fail whenever a page that starts a payment does not allow the checkout's origin
(every CSP violation Chromium reports is collected and must be none).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import select

from portal.db import db
from portal.domain.payments import paylinks
from portal.domain.plans import lifecycle, proposals, schedules
from portal.models import Instalment, Invoice, Payment, WebhookDelivery
from tests.e2e.test_portal_journey import sign_in
from tests.factories import business_today, create_brand, create_debtor, create_invoice
from tests.payments.stubs import (
    MOLLIE_KEY,
    STRIPE_KEY,
    STRIPE_WEBHOOK_SECRET,
    MollieStub,
    StripeStub,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TODAY = business_today()
THANKS = "Thank you, your payment was received"


@pytest.fixture(scope="module")
def stand_ins(live_server: str) -> Iterator[dict[str, MollieStub | StripeStub]]:
    mollie, stripe = MollieStub(), StripeStub()
    stripe.webhook_endpoint = f"{live_server}/webhooks/stripe"  # as set in Stripe's dashboard
    yield {"mollie": mollie, "stripe": stripe}
    mollie.stop()
    stripe.stop()


@pytest.fixture
def provider(request, app: Flask, stand_ins) -> Iterator[MollieStub | StripeStub]:
    """PAYMENT_PROVIDER=<param>, its API (and so its checkout) on the stand-in's port."""
    saved = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(
        saved,
        payment_provider=request.param,
        mollie_api_key=MOLLIE_KEY,
        mollie_api_url=stand_ins["mollie"].url,
        stripe_secret_key=STRIPE_KEY,
        stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
        stripe_api_url=stand_ins["stripe"].url,
    )
    yield stand_ins[request.param]
    app.config["SETTINGS"] = saved


@pytest.fixture
def csp_violations(page: Page) -> list[str]:
    """What Chromium reports on the console about the Content Security Policy."""
    seen: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    page.on("console", listen)
    return seen


def overdue(debtor, number: str, cents: int, days: int) -> Invoice:
    return create_invoice(
        debtor,
        number=number,
        total_cents=cents,
        invoice_date=TODAY - dt.timedelta(days=days + 14),
        due_date=TODAY - dt.timedelta(days=days),
    )


def at_checkout(page: Page, stand_in: MollieStub | StripeStub, violations: list[str]) -> None:
    """The browser followed the pay form to the stand-in's page (its origin, not the app's)."""
    try:
        expect(page.get_by_role("heading", name="test checkout")).to_be_visible()
    except AssertionError:
        raise AssertionError(f"no checkout page; Chromium said: {violations}") from None
    wallet = stand_in.wallet.url if isinstance(stand_in, MollieStub) else stand_in.url
    assert page.url.startswith((stand_in.url + "/", wallet + "/"))


def pay_at_checkout(page: Page, stand_in: MollieStub | StripeStub, violations: list[str]) -> None:
    """At the stand-in's checkout: press its pay button."""
    at_checkout(page, stand_in, violations)
    page.get_by_role("button", name="Pay", exact=True).click()


@pytest.mark.parametrize("provider", ["mollie", "stripe"], indirect=True)
def test_invoices_and_an_instalment_are_paid_at_the_providers_checkout(
    page: Page, app, live_server, provider, inbox, csp_violations
):
    base, name = live_server, provider.name
    brand = create_brand(name=f"Drukkerij {name}")
    email = f"pay-{name}@example.com"
    debtor = create_debtor(brand, emails=[email], name="Noor de Wit", language="en")
    for number, cents, days in ((1, 4995, 30), (2, 1000, 20), (3, 2550, 10)):
        overdue(debtor, f"{name}-{number}", cents, days)
    planned = overdue(debtor, f"{name}-4", 30000, 5)
    proposal = proposals.propose(
        db.session(),
        debtor,
        [planned.id],
        TODAY + dt.timedelta(days=7),
        schedules.MONTHLY,
        TODAY,
        count=3,
    )
    assert proposal.can_accept, proposal.problems
    plan = lifecycle.accept(db.session(), proposal, "I agree", "127.0.0.1", "t", TODAY)
    db.session.commit()
    plan_id = plan.id
    db.session.remove()

    sign_in(page, base, inbox, email)
    # one invoice, from its own page, with PayPal: Mollie sends the browser on to PayPal's
    # origin, a redirect that no form-action of ours could name
    page.goto(f"{base}/invoices")
    page.get_by_role("link", name=f"{name}-1").click()
    page.get_by_role("button", name="Pay €49.95").click()
    page.get_by_label("PayPal").check()
    page.get_by_role("button", name="Pay €49.95").click()
    at_checkout(page, provider, csp_violations)
    if isinstance(provider, MollieStub):
        assert page.url.startswith(provider.wallet.url + "/")  # PayPal took over
    # Back from the checkout is the pay page, not the hand-off that would send the person
    # straight on again
    page.go_back()
    expect(page).to_have_url(re.compile(r"/pay\?invoice="))
    page.go_forward()
    pay_at_checkout(page, provider, csp_violations)
    expect(page.get_by_role("heading", name=THANKS)).to_be_visible()
    assert page.url.startswith(f"{base}/pay/return/")

    # two invoices ticked in the list
    page.goto(f"{base}/invoices")
    page.get_by_label(f"Select invoice {name}-2 to pay").check()
    page.get_by_label(f"Select invoice {name}-3 to pay").check()
    expect(page.locator("#pay-bar")).to_contain_text("€35.50")
    page.get_by_role("button", name="Pay selected invoices").click()
    page.get_by_role("button", name="Pay €35.50").click()
    pay_at_checkout(page, provider, csp_violations)
    expect(page.get_by_role("heading", name=THANKS)).to_be_visible()

    # the first instalment of the plan
    page.goto(f"{base}/plans/{plan_id}")
    page.get_by_role("button", name="Pay instalment 1").click()
    expect(page.get_by_role("heading", name="Pay instalment 1 of 3")).to_be_visible()
    page.get_by_role("button", name="Pay €100.00").click()
    pay_at_checkout(page, provider, csp_violations)
    expect(page.get_by_role("heading", name=THANKS)).to_be_visible()

    assert csp_violations == []
    paid = db.session.scalars(
        select(Invoice.number).where(Invoice.debtor_id == debtor.id, Invoice.status == "paid")
    )
    assert sorted(paid) == [f"{name}-1", f"{name}-2", f"{name}-3"]
    assert (
        db.session.scalar(
            select(Instalment.paid_cents).where(Instalment.plan_id == plan_id, Instalment.seq == 1)
        )
        == 10000
    )
    payments = db.session.scalars(select(Payment).where(Payment.debtor_id == debtor.id)).all()
    assert {(p.provider, p.status) for p in payments} == {(name, "paid")}
    if isinstance(provider, StripeStub):  # Stripe posted its signed event before the return
        outcomes = db.session.scalars(
            select(WebhookDelivery.outcome).where(WebhookDelivery.provider == "stripe")
        ).all()
        assert provider.webhook_answers[-3:] == [200, 200, 200] and "applied" in outcomes
    db.session.remove()


def leave_unpaid(page: Page, stand_in: MollieStub | StripeStub, violations: list[str]) -> None:
    """At the checkout the person does not pay: Mollie has a cancel button; Stripe's "Back"
    leaves the session open until it expires, which Stripe then reports by webhook."""
    at_checkout(page, stand_in, violations)
    if isinstance(stand_in, MollieStub):
        assert page.url.startswith(f"{stand_in.url}/checkout/ideal/")  # after Mollie's own hop
        page.get_by_role("button", name="Cancel payment").click()
        return
    page.get_by_role("link", name="Back").click()
    expect(page.get_by_role("heading", name="We are waiting for confirmation")).to_be_visible()
    ref = list(stand_in.sessions)[-1]  # the session just left
    stand_in.expire(ref)  # an hour later
    stand_in.notify("checkout.session.expired", ref)


@pytest.mark.parametrize("provider", ["mollie", "stripe"], indirect=True)
def test_a_pay_link_left_unpaid_is_tried_again_and_paid_through_htmx(
    page: Page, live_server, provider, csp_violations
):
    """A pay-link (as the second chance mails it), logged out: the first attempt is left
    unpaid at the checkout; "Try again" from the return page, with another method, sends the
    pay form with htmx this time: DESIGN section 9 answers an HX request with HX-Redirect
    (a 303 to the checkout would be followed by the XHR itself, which connect-src 'self'
    and CORS stop), and htmx moves the whole window to the checkout."""
    base, name = live_server, provider.name
    brand = create_brand(name=f"Bakkerij {name}")
    debtor = create_debtor(brand, name="Sem Jansen", language="en")
    invoice = overdue(debtor, f"LINK-{name}", 1250, 3)
    link = paylinks.create(db.session(), debtor, [invoice], actor="second_chance")
    db.session.commit()
    url = f"{base}/p/{paylinks.token(link, 'test-secret-key')}"
    db.session.remove()

    page.goto(url)
    expect(page.get_by_role("heading", name=f"Payment to Bakkerij {name}")).to_be_visible()
    page.get_by_label("iDEAL").check()
    page.get_by_role("button", name="Pay €12.50").click()
    leave_unpaid(page, provider, csp_violations)
    expect(page.get_by_role("heading", name="The payment did not go through")).to_be_visible()

    page.get_by_role("button", name="Try again").click()
    page.get_by_label("PayPal").check()
    page.eval_on_selector(  # the pay form, submitted by htmx
        "form.pay-form",
        "f => { f.setAttribute('hx-post', f.getAttribute('action')); htmx.process(f); }",
    )
    with page.expect_response(lambda r: r.request.method == "POST" and "/p/" in r.url) as posted:
        page.get_by_role("button", name="Pay €12.50").click()
    answer = posted.value
    assert answer.status == 204 and answer.request.header_value("HX-Request") == "true"
    assert (answer.header_value("HX-Redirect") or "").startswith(provider.url + "/")
    pay_at_checkout(page, provider, csp_violations)
    expect(page.get_by_role("heading", name=THANKS)).to_be_visible()
    page.goto(url)
    expect(page.get_by_role("heading", name="Already paid")).to_be_visible()
    assert csp_violations == []
