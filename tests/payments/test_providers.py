"""One contract for every payment provider: sandbox, Mollie (stub) and Stripe (stub).

Every provider is built the way the portal builds it, `registry.get(name, settings)`;
Mollie and Stripe run their real SDKs against the local stubs in `stubs.py`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

import pytest
import stripe

from portal.domain.payments.providers import registry, sandbox
from portal.domain.payments.providers.base import (
    CheckoutRequest,
    Forged,
    Ignored,
    Method,
    Provider,
    ProviderError,
    Status,
    WebhookRequest,
    origin,
    value_to_cents,
)
from portal.models import SandboxPayment
from tests.payments.stubs import (
    MOLLIE_KEY,
    STRIPE_KEY,
    STRIPE_WEBHOOK_SECRET,
    MollieStub,
    StripeStub,
)

ALL_METHODS = (Method.IDEAL, Method.BANCONTACT, Method.PAYPAL, Method.CARD)


def request(**changes) -> CheckoutRequest:
    values = {
        "reference": "pay_Ref123",
        "amount_cents": 12345,
        "currency": "EUR",
        "description": "Invoices F-1, F-2",
        "methods": ALL_METHODS,
        "method": Method.IDEAL,
        "locale": "nl_NL",
        "return_url": "https://pay.example.com/pay/return/pay_Ref123",
        "webhook_url": "https://pay.example.com/webhooks/x",
        "metadata": {"brand": "acme"},
    }
    values.update(changes)
    return CheckoutRequest(**values)


@dataclass(frozen=True)
class Sent:
    """What reached the provider for one created payment, in our words."""

    amount_cents: int
    currency: str
    description: str
    return_url: str


@dataclass
class Driver:
    """How a test plays the person at the checkout and the bank, per provider."""

    provider: Provider
    sent: Callable[[str], Sent]
    pay: Callable[[str, str], None]  # our method name
    fail: Callable[[str], None]
    cancel: Callable[[str], None]
    expire: Callable[[str], None]
    refund: Callable[[str, int], None]
    charge_back: Callable[[str], None]
    webhook: Callable[[str], WebhookRequest]
    forged: list[WebhookRequest]
    unknown_ref: str
    canceled_is: Status = Status.CANCELED


def form_post(ref: str) -> WebhookRequest:
    return WebhookRequest(f"id={ref}".encode(), {}, {"id": ref})


def mollie_settings(settings, url: str, key: str = MOLLIE_KEY):
    return dataclasses.replace(
        settings, payment_provider="mollie", mollie_api_key=key, mollie_api_url=url
    )


def stripe_settings(settings, url: str, key: str = STRIPE_KEY, secret=STRIPE_WEBHOOK_SECRET):
    return dataclasses.replace(
        settings,
        payment_provider="stripe",
        stripe_secret_key=key,
        stripe_webhook_secret=secret,
        stripe_api_url=url,
    )


def _sandbox(app) -> Driver:
    def record(ref: str) -> SandboxPayment:
        found = sandbox.find(ref)
        assert found is not None
        return found

    def move(status: Status) -> Callable[[str], None]:
        return lambda ref: sandbox.choose(record(ref), status, None)

    def sent(ref: str) -> Sent:
        r = record(ref)
        return Sent(r.amount_cents, r.currency, r.description, r.return_url)

    return Driver(
        provider=registry.get("sandbox", app.config["SETTINGS"]),
        sent=sent,
        pay=lambda ref, method: sandbox.choose(record(ref), Status.PAID, Method(method)),
        fail=move(Status.FAILED),
        cancel=move(Status.CANCELED),
        expire=move(Status.EXPIRED),
        refund=lambda ref, cents: sandbox.refund(record(ref), cents),
        charge_back=lambda ref: sandbox.charge_back(record(ref)),
        webhook=form_post,
        forged=[
            WebhookRequest(b"", {}, {}),
            form_post("tr_WDqYK6vllg"),
            form_post("sbx_<script>"),
        ],
        unknown_ref="sbx_neverissued1234",
    )


def _mollie(settings, stub: MollieStub) -> Driver:
    def sent(ref: str) -> Sent:
        body = stub.created[ref]
        amount = body["amount"]
        return Sent(
            value_to_cents(amount["value"]),
            amount["currency"],
            body["description"],
            body["redirectUrl"],
        )

    return Driver(
        provider=registry.get("mollie", mollie_settings(settings, stub.url)),
        sent=sent,
        pay=lambda ref, method: stub.pay(ref, "creditcard" if method == "card" else method),
        fail=stub.fail,
        cancel=stub.cancel,
        expire=stub.expire,
        refund=stub.refund,
        charge_back=stub.charge_back,
        webhook=form_post,
        forged=[
            WebhookRequest(b"", {}, {}),
            form_post("cs_test_a1b2c3d4"),
            form_post("tr_1 OR 1=1"),
            form_post("tr_WDqYK6vllg\n"),
            form_post("tr_ÄÖÜßäöü"),
            form_post("tr_" + "a" * 200),
        ],
        unknown_ref="tr_neverissued99",
    )


def _stripe(settings, stub: StripeStub) -> Driver:
    def sent(ref: str) -> Sent:
        params = stub.created[ref]
        price = params["line_items"][0]["price_data"]
        assert params["cancel_url"] == params["success_url"]
        return Sent(
            int(price["unit_amount"]),
            price["currency"].upper(),
            price["product_data"]["name"],
            params["success_url"],
        )

    def webhook(ref: str) -> WebhookRequest:
        body, header = stub.event("checkout.session.completed", stub.sessions[ref])
        return WebhookRequest(body, {"stripe-signature": header}, {})

    body, header = stub.event("checkout.session.completed", {"id": "cs_test_x"})
    tampered = body.replace(b"cs_test_x", b"cs_test_y")
    _, wrong_secret = stub.event("checkout.session.completed", {"id": "cs_test_x"}, "whsec_other")
    stale = f"t={int(time.time()) - 3600},{header.split(',', 1)[1]}"
    return Driver(
        provider=registry.get("stripe", stripe_settings(settings, stub.url)),
        sent=sent,
        pay=stub.pay,
        fail=stub.fail,
        cancel=stub.cancel,
        expire=stub.expire,
        refund=stub.refund,
        charge_back=stub.charge_back,
        webhook=webhook,
        forged=[
            WebhookRequest(body, {}, {}),  # no signature
            WebhookRequest(body, {"stripe-signature": ""}, {}),
            WebhookRequest(body, {"stripe-signature": "t=abc,v1=zz"}, {}),
            WebhookRequest(tampered, {"stripe-signature": header}, {}),
            WebhookRequest(body, {"stripe-signature": wrong_secret}, {}),
            WebhookRequest(body, {"stripe-signature": stale}, {}),  # replayed an hour later
            WebhookRequest(b"\xff" + body, {"stripe-signature": header}, {}),
        ],
        unknown_ref="cs_test_neverissued",
        canceled_is=Status.EXPIRED,  # leaving Stripe Checkout: the session runs out
    )


@pytest.fixture(params=["sandbox", "mollie", "stripe"])
def driver(request, app, mollie_stub, stripe_stub) -> Driver:
    # `app` by name, for every provider: the per-test rollback only wraps tests that ask
    # for it up front, and the sandbox writes its records to our database
    settings = app.config["SETTINGS"]
    if request.param == "sandbox":
        return _sandbox(app)
    if request.param == "mollie":
        return _mollie(settings, mollie_stub)
    return _stripe(settings, stripe_stub)


# ------------------------------------------------------------------------ contract
def test_create_sends_our_payment_and_reports_it_open(driver):
    checkout = driver.provider.create(request())
    assert checkout.provider_ref and checkout.status == Status.OPEN
    assert checkout.checkout_url.startswith(("http://", "https://"))
    # the pay page's CSP form-action names these: a checkout elsewhere would be blocked
    assert origin(checkout.checkout_url) in driver.provider.checkout_origins
    assert driver.sent(checkout.provider_ref) == Sent(
        12345, "EUR", "Invoices F-1, F-2", "https://pay.example.com/pay/return/pay_Ref123"
    )
    truth = driver.provider.fetch(checkout.provider_ref)
    assert truth.provider_ref == checkout.provider_ref
    assert (truth.status, truth.amount_cents, truth.currency) == (Status.OPEN, 12345, "EUR")
    assert truth.method in (None, Method.IDEAL) and truth.test_mode is True


def test_amount_and_currency_other_than_euro(driver):
    usd = request(amount_cents=250, currency="USD", method=None, methods=(Method.CARD,))
    ref = driver.provider.create(usd).provider_ref
    assert (driver.sent(ref).amount_cents, driver.sent(ref).currency) == (250, "USD")
    truth = driver.provider.fetch(ref)
    assert (truth.amount_cents, truth.currency) == (250, "USD")


@pytest.mark.parametrize("method", list(Method))
def test_paid_with_the_method_used(driver, method):
    ref = driver.provider.create(request(method=None)).provider_ref
    driver.pay(ref, method.value)
    truth = driver.provider.fetch(ref)
    assert (truth.status, truth.method) == (Status.PAID, method)
    assert (truth.amount_cents, truth.currency) == (12345, "EUR")
    assert truth.refunded_cents == truth.charged_back_cents == 0


@pytest.mark.parametrize("outcome", ["fail", "cancel", "expire"])
def test_unsuccessful_outcomes(driver, outcome):
    ref = driver.provider.create(request()).provider_ref
    getattr(driver, outcome)(ref)
    expected = {"fail": Status.FAILED, "cancel": driver.canceled_is, "expire": Status.EXPIRED}
    assert driver.provider.fetch(ref).status == expected[outcome]


def test_refund_and_chargeback_amounts(driver):
    ref = driver.provider.create(request()).provider_ref
    driver.pay(ref, "ideal")
    driver.refund(ref, 2000)
    truth = driver.provider.fetch(ref)
    assert (truth.status, truth.refunded_cents, truth.charged_back_cents) == (Status.PAID, 2000, 0)
    driver.refund(ref, 12345)
    assert driver.provider.fetch(ref).refunded_cents == 12345

    other = driver.provider.create(request()).provider_ref
    driver.pay(other, "card")
    driver.charge_back(other)
    truth = driver.provider.fetch(other)
    assert (truth.status, truth.refunded_cents, truth.charged_back_cents) == (Status.PAID, 0, 12345)


def test_euro_only_methods(driver):
    for method in Method:
        assert driver.provider.supports(method, "EUR")
    assert not driver.provider.supports(Method.IDEAL, "USD")
    assert not driver.provider.supports(Method.BANCONTACT, "GBP")
    assert driver.provider.supports(Method.CARD, "USD")
    assert driver.provider.supports(Method.PAYPAL, "GBP")


def test_genuine_webhook_names_the_payment(driver):
    ref = driver.provider.create(request()).provider_ref
    driver.pay(ref, "ideal")
    assert driver.provider.parse_webhook(driver.webhook(ref)) == ref


def test_forged_webhooks_are_refused(driver):
    for forged in driver.forged:
        with pytest.raises(Forged):
            driver.provider.parse_webhook(forged)


def test_unknown_payment_is_ignored(driver):
    with pytest.raises(Ignored):
        driver.provider.fetch(driver.unknown_ref)


# --------------------------------------------------------------- provider unreachable
@pytest.fixture
def closed_url() -> str:
    """The address of a stub that has stopped: the port refuses connections."""
    stub = MollieStub()
    stub.stop()
    return stub.url


def test_unreachable_mollie_is_a_provider_error(settings, closed_url):
    provider = registry.get("mollie", mollie_settings(settings, closed_url))
    with pytest.raises(ProviderError, match="could not be reached"):
        provider.create(request())
    with pytest.raises(ProviderError, match="could not be reached"):
        provider.fetch("tr_WDqYK6vllg")


def test_unreachable_stripe_is_a_provider_error(settings, closed_url, stripe_stub):
    provider = registry.get("stripe", stripe_settings(settings, closed_url))
    with pytest.raises(ProviderError, match="could not be reached"):
        provider.create(request())
    with pytest.raises(ProviderError, match="could not be reached"):
        provider.fetch("cs_test_a1b2c3")
    body, header = stripe_stub.event("charge.refunded", {"id": "ch_1", "payment_intent": "pi_1"})
    with pytest.raises(ProviderError):
        provider.parse_webhook(WebhookRequest(body, {"stripe-signature": header}, {}))


def test_wrong_key_is_a_provider_error_not_ignored(settings, mollie_stub, stripe_stub):
    mollie = registry.get(
        "mollie", mollie_settings(settings, mollie_stub.url, "test_wrongwrongwrongwrongwrongwrong")
    )
    with pytest.raises(ProviderError, match="401"):
        mollie.create(request())
    with pytest.raises(ProviderError, match="401"):
        mollie.fetch("tr_WDqYK6vllg")
    stripe_provider = registry.get(
        "stripe", stripe_settings(settings, stripe_stub.url, "sk_test_wrong")
    )
    with pytest.raises(ProviderError, match="401"):
        stripe_provider.create(request())
    with pytest.raises(ProviderError, match="401"):
        stripe_provider.fetch("cs_test_a1b2c3")


@pytest.mark.parametrize("key", ["", "sk_test_abc", "test_has space"])
def test_malformed_mollie_key_is_refused_at_once(settings, mollie_stub, key):
    with pytest.raises(ProviderError, match="MOLLIE_API_KEY"):
        registry.get("mollie", mollie_settings(settings, mollie_stub.url, key))


def test_missing_stripe_key_is_refused_at_once(settings, stripe_stub):
    with pytest.raises(ProviderError, match="STRIPE_SECRET_KEY"):
        registry.get("stripe", stripe_settings(settings, stripe_stub.url, ""))


# --------------------------------------------------------------------------- Mollie
@pytest.mark.parametrize(
    "webhook_url",
    [
        None,
        "http://localhost:5000/webhooks/mollie",
        "https://localhost/webhooks/mollie",
        "http://127.0.0.1:5000/webhooks/mollie",
        "https://[::1]/webhooks/mollie",
        "https://10.1.2.3/webhooks/mollie",
        "https://portal.test/webhooks/mollie",
        "https://betaal.local/webhooks/mollie",
        "https://portal/webhooks/mollie",
        "http://pay.example.com/webhooks/mollie",  # public, but not https
    ],
)
def test_mollie_leaves_a_non_public_webhook_url_out(settings, mollie_stub, webhook_url):
    provider = _mollie(settings, mollie_stub).provider
    ref = provider.create(request(webhook_url=webhook_url)).provider_ref
    assert "webhookUrl" not in mollie_stub.created[ref]


def test_mollie_create_request(settings, mollie_stub):
    provider = _mollie(settings, mollie_stub).provider
    public = "https://pay.example.com/webhooks/mollie"
    ref = provider.create(request(webhook_url=public, method=None, locale="fr_BE")).provider_ref
    sent = mollie_stub.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v2/payments")
    assert sent.body == {
        "amount": {"currency": "EUR", "value": "123.45"},
        "description": "Invoices F-1, F-2",
        "redirectUrl": "https://pay.example.com/pay/return/pay_Ref123",
        "webhookUrl": public,
        "locale": "fr_BE",
        "metadata": {"brand": "acme", "reference": "pay_Ref123"},
        "method": ["ideal", "bancontact", "paypal", "creditcard"],
    }
    assert sent.headers.get("idempotency-key")  # the SDK makes creates safe to retry
    assert mollie_stub.created[ref] == sent.body
    provider.create(request(method=Method.CARD))
    assert mollie_stub.requests[-1].body["method"] == "creditcard"


@pytest.mark.parametrize(
    "mollie_status",
    ["open", "pending", "authorized", "paid", "canceled", "expired", "failed"],
)
def test_mollie_statuses(settings, mollie_stub, mollie_status):
    provider = _mollie(settings, mollie_stub).provider
    ref = provider.create(request()).provider_ref
    mollie_stub.move(ref, mollie_status)
    assert provider.fetch(ref).status == Status(mollie_status)


def test_mollie_refusal_is_a_short_provider_error(settings, mollie_stub):
    provider = _mollie(settings, mollie_stub).provider
    with pytest.raises(ProviderError, match=r"\(422\): The amount is invalid") as caught:
        provider.create(request(amount_cents=-100))
    assert len(str(caught.value)) < 300


def test_ideal_in_dollars_is_refused_as_the_real_apis_refuse_it(settings, mollie_stub, stripe_stub):
    for provider in (
        _mollie(settings, mollie_stub).provider,
        _stripe(settings, stripe_stub).provider,
    ):
        with pytest.raises(ProviderError, match="currency"):
            provider.create(request(currency="USD", method=Method.IDEAL))


def test_mollie_webhook_for_an_id_mollie_does_not_know(settings, mollie_stub):
    provider = _mollie(settings, mollie_stub).provider
    ref = provider.parse_webhook(form_post("tr_neverissued99"))  # well-formed: passes
    with pytest.raises(Ignored):
        provider.fetch(ref)  # Mollie's 404


# --------------------------------------------------------------------------- Stripe
def signed(stub: StripeStub, kind: str, obj: dict, secret=STRIPE_WEBHOOK_SECRET):
    body, header = stub.event(kind, obj, secret)
    return WebhookRequest(body, {"stripe-signature": header}, {})


@pytest.mark.parametrize(
    ("locale", "stripe_locale"),
    [("nl_NL", "nl"), ("fr_BE", "fr"), ("en_US", "en"), ("de_DE", "auto")],
)
def test_stripe_session_request(settings, stripe_stub, locale, stripe_locale):
    provider = _stripe(settings, stripe_stub).provider
    checkout = provider.create(request(method=None, locale=locale))
    sent = stripe_stub.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/checkout/sessions")
    params = sent.body
    assert abs(int(params["expires_at"]) - (time.time() + 3600)) < 60
    assert params["mode"] == "payment"
    assert params["payment_method_types"] == ["ideal", "bancontact", "paypal", "card"]
    assert params["line_items"] == [
        {
            "quantity": "1",
            "price_data": {
                "currency": "eur",
                "unit_amount": "12345",
                "product_data": {"name": "Invoices F-1, F-2"},
            },
        }
    ]
    assert params["success_url"] == params["cancel_url"] == request().return_url
    assert params["client_reference_id"] == "pay_Ref123"
    ours = {"brand": "acme", "reference": "pay_Ref123"}
    assert params["metadata"] == params["payment_intent_data"]["metadata"] == ours
    assert params["locale"] == stripe_locale
    assert checkout.checkout_url == stripe_stub.sessions[checkout.provider_ref]["url"]


def test_stripe_session_offers_the_chosen_method_only(settings, stripe_stub):
    provider = _stripe(settings, stripe_stub).provider
    provider.create(request(method=Method.BANCONTACT))
    assert stripe_stub.requests[-1].body["payment_method_types"] == ["bancontact"]


def test_stripe_fetch_expands_the_charge(settings, stripe_stub):
    provider = _stripe(settings, stripe_stub).provider
    ref = provider.create(request()).provider_ref
    provider.fetch(ref)
    sent = stripe_stub.requests[-1]
    assert sent.method == "GET" and sent.path.startswith(f"/v1/checkout/sessions/{ref}?")
    assert "expand[0]=payment_intent.latest_charge" in unquote(sent.path)


def test_stripe_declined_attempt_leaves_the_session_open(settings, stripe_stub):
    provider = _stripe(settings, stripe_stub).provider
    ref = provider.create(request(method=Method.CARD)).provider_ref
    stripe_stub.decline(ref)
    assert provider.fetch(ref).status == Status.OPEN  # the person may try again
    stripe_stub.pay(ref, "card")
    assert provider.fetch(ref).status == Status.PAID


def test_stripe_pending_async_payment(settings, stripe_stub):
    provider = _stripe(settings, stripe_stub).provider
    ref = provider.create(request()).provider_ref
    stripe_stub.pending(ref)
    truth = provider.fetch(ref)
    assert (truth.status, truth.method) == (Status.PENDING, Method.IDEAL)


def test_stripe_counts_only_a_lost_dispute_as_charged_back(settings, stripe_stub):
    provider = _stripe(settings, stripe_stub).provider
    ref = provider.create(request()).provider_ref
    stripe_stub.pay(ref, "card")
    for status, charged_back in [("needs_response", 0), ("under_review", 0), ("won", 0)]:
        stripe_stub.dispute(ref, status)
        assert provider.fetch(ref).charged_back_cents == charged_back, status
    stripe_stub.dispute(ref, "lost")
    truth = provider.fetch(ref)
    assert (truth.status, truth.charged_back_cents) == (Status.PAID, 12345)


def test_stripe_refund_and_dispute_events_lead_to_the_session(settings, stripe_stub):
    provider = _stripe(settings, stripe_stub).provider
    ref = provider.create(request()).provider_ref
    stripe_stub.pay(ref, "card")
    stripe_stub.refund(ref, 12345)
    assert (
        provider.parse_webhook(signed(stripe_stub, "charge.refunded", stripe_stub.charge(ref)))
        == ref
    )
    dispute = stripe_stub.dispute(ref)
    for kind in ("charge.dispute.created", "charge.dispute.closed"):
        assert provider.parse_webhook(signed(stripe_stub, kind, dispute)) == ref
    sent = stripe_stub.requests[-1]
    assert sent.path.startswith("/v1/checkout/sessions?")
    assert f"payment_intent={dispute['payment_intent']}" in sent.path


@pytest.mark.parametrize(
    "kind",
    sorted(
        {
            "checkout.session.async_payment_succeeded",
            "checkout.session.expired",
            "checkout.session.async_payment_failed",
            "checkout.session.completed",
        }
    ),
)
def test_stripe_session_events_name_the_session(settings, stripe_stub, kind):
    provider = _stripe(settings, stripe_stub).provider
    ref = provider.create(request()).provider_ref
    assert provider.parse_webhook(signed(stripe_stub, kind, stripe_stub.sessions[ref])) == ref


def test_stripe_events_we_do_not_track_are_ignored(settings, stripe_stub):
    provider = _stripe(settings, stripe_stub).provider
    ignored = [
        signed(stripe_stub, "customer.created", {"id": "cus_1", "object": "customer"}),
        signed(stripe_stub, "payment_intent.succeeded", {"id": "pi_1"}),
        # a charge that did not come from one of our Checkout Sessions
        signed(stripe_stub, "charge.refunded", {"id": "ch_x", "payment_intent": "pi_unknown"}),
        signed(stripe_stub, "charge.refunded", {"id": "ch_x", "payment_intent": None}),
        signed(stripe_stub, "checkout.session.completed", {"object": "checkout.session"}),
    ]
    for delivery in ignored:
        with pytest.raises(Ignored):
            provider.parse_webhook(delivery)


def test_stripe_webhooks_without_a_configured_secret_are_forged(settings, stripe_stub):
    provider = registry.get("stripe", stripe_settings(settings, stripe_stub.url, secret=""))
    with pytest.raises(Forged):
        provider.parse_webhook(signed(stripe_stub, "checkout.session.completed", {"id": "cs_1"}))


def test_stripe_signature_computed_by_hand_is_accepted(settings, stripe_stub):
    """The v1 scheme itself: HMAC-SHA256 of "{t}.{body}" with the endpoint secret."""
    provider = _stripe(settings, stripe_stub).provider
    ref = provider.create(request()).provider_ref
    body = json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": "checkout.session.expired",
            "data": {"object": {"id": ref, "object": "checkout.session"}},
        }
    ).encode()
    t = int(time.time())
    mac = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256)
    header = f"t={t},v1={mac.hexdigest()}"
    assert provider.parse_webhook(WebhookRequest(body, {"stripe-signature": header}, {})) == ref
    assert stripe.WebhookSignature.verify_header(body.decode(), header, STRIPE_WEBHOOK_SECRET)


# -------------------------------------------------------------------------- sandbox
def test_the_sandbox_never_runs_in_production(settings):
    production = dataclasses.replace(settings, app_env="production")
    with pytest.raises(KeyError):
        registry.get("sandbox", production)
