"""Pages that start a payment: their form must lead to the provider's checkout.

Browsers apply a page's `form-action` to every redirect that follows its form, also the
ones a checkout answers with on its way to PayPal or a bank, which no list of ours can
know. So the form's redirect stays on our origin: it ends on the hand-off page
(`/pay/go/<id>`), which moves on to the checkout by itself. Every page keeps
`form-action 'self'`; each pay page here is submitted, plainly and with htmx, and must lead
to the checkout of the provider that takes the payment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from portal import runtime
from portal.db import db
from portal.domain import embed
from portal.domain.payments import paylinks, second_chance, service
from portal.domain.payments.providers import registry
from portal.domain.payments.providers.base import origin
from portal.domain.plans import lifecycle, proposals, schedules
from portal.models import Brand, PayLink, Payment
from tests.api.test_api import auth, body, make_key
from tests.conftest import login_as
from tests.factories import business_today, create_debtor, create_invoice
from tests.payments.helpers import checkout_of

SECRET = "test-secret-key"
TODAY = business_today()
REAL = {"mollie": "https://www.mollie.com", "stripe": "https://checkout.stripe.com"}


def form_action(response) -> set[str]:
    """The sources of the response's CSP `form-action`."""
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        if name == "form-action":
            return set(values)
    raise AssertionError("no form-action")


class _PayForm(HTMLParser):
    """The pay form's action and what a person submits: hidden fields, checked radios."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, list[str]] = {}
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and "pay-form" in (a.get("class") or ""):
            self.action, self._inside = a.get("action") or "", True
        elif tag == "input" and self._inside:
            kind = a.get("type")
            if kind == "hidden" or (kind == "radio" and "checked" in a):
                self.fields.setdefault(a["name"] or "", []).append(a.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def pay_form(html: str) -> _PayForm:
    parser = _PayForm()
    parser.feed(html)
    assert parser.action, "no pay form on the page"
    return parser


def instalment_plan(debtor):
    invoice = create_invoice(
        debtor,
        total_cents=30000,
        invoice_date=TODAY - dt.timedelta(days=30),
        due_date=TODAY - dt.timedelta(days=10),
    )
    proposal = proposals.propose(
        db.session(),
        debtor,
        [invoice.id],
        TODAY + dt.timedelta(days=7),
        schedules.MONTHLY,
        TODAY,
        3,
    )
    assert proposal.can_accept, proposal.problems
    plan = lifecycle.accept(db.session(), proposal, "I agree", "127.0.0.1", "t", TODAY)
    db.session.commit()
    return plan


def link_path(link: PayLink) -> str:
    return f"/p/{paylinks.token(link, SECRET)}"


@pytest.mark.parametrize("name", ["mollie", "stripe"])
def test_every_page_that_starts_a_payment_leads_its_form_to_the_checkout(
    app, client, use_provider, mollie_stub, stripe_stub, name
):
    use_provider(name)
    stub = {"mollie": mollie_stub, "stripe": stripe_stub}[name]
    debtor = create_debtor()
    a, b = create_invoice(debtor, total_cents=1000), create_invoice(debtor, total_cents=2000)
    plan = instalment_plan(debtor)
    link = paylinks.create(db.session(), debtor, [a], actor="admin:1")
    db.session.commit()
    login_as(client, debtor)

    # a payment for `b` fails: its return page offers the pay form again, an hour later the
    # second chance mails a fresh pay-link
    form = pay_form(client.get(f"/pay?invoice={b.id}").get_data(as_text=True))
    assert client.post(form.action, data=form.fields).status_code == 303
    failed = db.session.scalars(select(Payment).order_by(Payment.id.desc())).first()
    stub.expire(failed.provider_ref)
    returned = client.get(f"/pay/return/{failed.public_id}")
    assert "The payment did not go through" in returned.get_data(as_text=True)
    assert form_action(returned) == {"'self'"}
    again = pay_form(returned.get_data(as_text=True))  # another method, on the same page
    assert again.action == "/pay" and again.fields["invoice"] == [str(b.id)]
    with app.test_request_context():
        later = service.utcnow() + dt.timedelta(minutes=61)
        assert second_chance.send_due(db.session(), runtime.mails(), now=later) == 1
        db.session.commit()
    second = db.session.scalars(select(PayLink).order_by(PayLink.id.desc())).first()
    assert second.id != link.id

    pages = {
        "one invoice": f"/pay?invoice={a.id}",
        "several invoices": f"/pay?invoice={a.id}&invoice={b.id}",
        "an instalment": f"/pay?instalment={plan.instalments[0].id}",
        "a pay-link": link_path(link),
        "the failure page": f"/pay/return/{failed.public_id}",
        "the second chance": link_path(second),
    }
    checkouts = {REAL[name], stub.url}
    for what, path in pages.items():
        page = client.get(path)
        assert page.status_code == 200, what
        assert form_action(page) == {"'self'"}, what
        form = pay_form(page.get_data(as_text=True))
        posted = client.post(form.action, data=form.fields)
        assert posted.headers["Location"].startswith("/pay/go/"), what  # our own origin
        assert origin(checkout_of(client, posted)) in checkouts, what
        # htmx: HX-Redirect (htmx moves the window by script) and no Location, which the
        # XHR itself would follow
        hx = client.post(form.action, data=form.fields, headers={"HX-Request": "true"})
        assert hx.status_code == 204 and "Location" not in hx.headers, what
        assert origin(hx.headers["HX-Redirect"]) in checkouts, what

    for path in ("/overview", "/invoices", f"/invoices/{a.id}", f"/plans/{plan.id}", "/login"):
        assert form_action(client.get(path)) == {"'self'"}, path


def test_a_pay_link_leads_to_the_provider_that_takes_its_payment(
    app, client, use_provider, mollie_stub
):
    """PAYMENT_PROVIDER=mollie, but a pay-link made with an API test key pays through the
    sandbox: that link leads to the sandbox's checkout, a live link to Mollie's."""
    use_provider("mollie")
    _, test_key = make_key(test_mode=True)
    made = client.post("/api/v1/pay-links", json=body(), headers=auth(test_key)).json
    test_page = client.get(made["url"].removeprefix("http://portal.test"))
    form = pay_form(test_page.get_data(as_text=True))
    checkout = checkout_of(client, client.post(form.action, data=form.fields))
    assert checkout.startswith("http://portal.test/sandbox/checkout/")

    debtor = create_debtor()
    live = paylinks.create(db.session(), debtor, [create_invoice(debtor)], actor="admin:1")
    db.session.commit()
    form = pay_form(client.get(link_path(live)).get_data(as_text=True))
    checkout = checkout_of(client, client.post(form.action, data=form.fields))
    assert checkout.startswith(f"{mollie_stub.url}/checkout/")


def test_a_framed_pay_page_keeps_its_frame_ancestors_and_a_strict_form_action(
    app, client, use_provider
):
    use_provider("stripe")
    key, raw = make_key()
    made = client.post("/api/v1/pay-links", json=body(), headers=auth(raw)).json
    embed.set_origins(db.session(), db.session.get(Brand, key.brand_id), ["https://shop.nl"])
    db.session.commit()
    csp = client.get(made["url"].removeprefix("http://portal.test")).headers[
        "Content-Security-Policy"
    ]
    assert "frame-ancestors https://shop.nl" in csp and "form-action 'self';" in csp


def test_each_provider_knows_its_checkout_origins_and_an_api_override_adds_its_own(settings):
    plain = dataclasses.replace(
        settings, mollie_api_key="test_abcdefghijklmnopqrstuvwxyz012345", stripe_secret_key="sk"
    )
    assert registry.get("mollie", plain).checkout_origins == ("https://www.mollie.com",)
    assert registry.get("stripe", plain).checkout_origins == ("https://checkout.stripe.com",)
    assert registry.get("sandbox", plain).checkout_origins == ("http://portal.test",)
    moved = dataclasses.replace(
        plain,
        mollie_api_url="http://127.0.0.1:8123/v2",
        stripe_api_url="https://stripe-mock.internal:12111",
    )
    assert registry.get("mollie", moved).checkout_origins == (
        "https://www.mollie.com",
        "http://127.0.0.1:8123",
    )
    assert registry.get("stripe", moved).checkout_origins == (
        "https://checkout.stripe.com",
        "https://stripe-mock.internal:12111",
    )
