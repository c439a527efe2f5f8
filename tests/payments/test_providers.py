"""One contract for every payment provider: sandbox, Mollie (stub) and Stripe (stub)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

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
)
from tests.payments.stubs import MOLLIE_KEY, STRIPE_KEY, STRIPE_WEBHOOK_SECRET


def request(**changes) -> CheckoutRequest:
    values = {
        "reference": "ref-123",
        "amount_cents": 12345,
        "currency": "EUR",
        "description": "Invoices F-1, F-2",
        "methods": (Method.IDEAL, Method.BANCONTACT, Method.PAYPAL, Method.CARD),
        "method": Method.IDEAL,
        "locale": "nl_NL",
        "return_url": "https://pay.example.com/pay/return/abc",
        "webhook_url": "https://pay.example.com/webhooks/x",
        "metadata": {"reference": "ref-123"},
    }
    values.update(changes)
    return CheckoutRequest(**values)


@dataclass
class Driver:
    """How a test plays the person at the checkout and the bank, per provider."""

    provider: Provider
    pay: Callable[[str, str], None]
    fail: Callable[[str], None]
    cancel: Callable[[str], None]
    expire: Callable[[str], None]
    refund: Callable[[str, int], None]
    charge_back: Callable[[str], None]
    webhook: Callable[[str], WebhookRequest]
    forged: list[WebhookRequest]
    unknown_ref: str
    canceled_is: Status = Status.CANCELED


def _sandbox(app) -> Driver:
    def move(status: Status) -> Callable[[str], None]:
        def apply(ref: str) -> None:
            sandbox.choose(sandbox.find(ref), status, None)

        return apply

    return Driver(
        provider=registry.get("sandbox", app.config["SETTINGS"]),
        pay=lambda ref, method: sandbox.choose(sandbox.find(ref), Status.PAID, Method(method)),
        fail=move(Status.FAILED),
        cancel=move(Status.CANCELED),
        expire=move(Status.EXPIRED),
        refund=lambda ref, cents: sandbox.refund(sandbox.find(ref), cents),
        charge_back=lambda ref: sandbox.charge_back(sandbox.find(ref)),
        webhook=lambda ref: WebhookRequest(f"id={ref}".encode(), {}, {"id": ref}),
        forged=[
            WebhookRequest(b"", {}, {}),
            WebhookRequest(b"id=tr_123", {}, {"id": "tr_123"}),
            WebhookRequest(b"", {}, {"id": "sbx_<script>"}),
        ],
        unknown_ref="sbx_neverissued1234",
    )


def _mollie(settings, stub) -> Driver:
    provider = registry.get(
        "mollie", dataclasses.replace(settings, mollie_api_key=MOLLIE_KEY, mollie_api_url=stub.url)
    )
    return Driver(
        provider=provider,
        pay=lambda ref, method: stub.pay(ref, "creditcard" if method == "card" else method),
        fail=stub.fail,
        cancel=stub.cancel,
        expire=stub.expire,
        refund=stub.refund,
        charge_back=stub.charge_back,
        webhook=lambda ref: WebhookRequest(f"id={ref}".encode(), {}, {"id": ref}),
        forged=[
            WebhookRequest(b"", {}, {}),
            WebhookRequest(b"id=cs_test_1", {}, {"id": "cs_test_1"}),
            WebhookRequest(b"", {}, {"id": "tr_1 OR 1=1"}),
        ],
        unknown_ref="tr_neverissued99",
    )


def _stripe(settings, stub) -> Driver:
    provider = registry.get(
        "stripe",
        dataclasses.replace(
            settings,
            stripe_secret_key=STRIPE_KEY,
            stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
            stripe_api_url=stub.url,
        ),
    )

    def webhook(ref: str) -> WebhookRequest:
        body, header = stub.event("checkout.session.completed", stub.sessions[ref])
        return WebhookRequest(body, {"stripe-signature": header}, {})

    body, header = stub.event("checkout.session.completed", {"id": "cs_test_x"})
    tampered = body.replace(b"cs_test_x", b"cs_test_y")
    _, wrong_secret = stub.event("checkout.session.completed", {"id": "cs_test_x"}, "whsec_other")
    old = f"t={int(time.time()) - 3600},{header.split(',', 1)[1]}"
    return Driver(
        provider=provider,
        pay=stub.pay,
        fail=stub.fail,
        cancel=stub.cancel,
        expire=stub.expire,
        refund=stub.refund,
        charge_back=stub.charge_back,
        webhook=webhook,
        forged=[
            WebhookRequest(body, {}, {}),  # no signature
            WebhookRequest(tampered, {"stripe-signature": header}, {}),
            WebhookRequest(body, {"stripe-signature": wrong_secret}, {}),
            WebhookRequest(body, {"stripe-signature": old}, {}),  # replayed an hour later
        ],
        unknown_ref="cs_test_neverissued",
        canceled_is=Status.EXPIRED,  # leaving Stripe Checkout: the session runs out
    )


@pytest.fixture(params=["sandbox", "mollie", "stripe"])
def driver(request, app, settings, mollie_stub, stripe_stub) -> Iterator[Driver]:
    if request.param == "sandbox":
        yield _sandbox(app)
    elif request.param == "mollie":
        yield _mollie(settings, mollie_stub)
    else:
        yield _stripe(settings, stripe_stub)


def test_create_then_fetch_reports_open_with_our_amount(driver):
    checkout = driver.provider.create(request())
    assert checkout.provider_ref and checkout.checkout_url.startswith(("http://", "https://"))
    truth = driver.provider.fetch(checkout.provider_ref)
    assert truth.status == Status.OPEN
    assert (truth.amount_cents, truth.currency) == (12345, "EUR")
    assert truth.test_mode is True


def test_paid_with_the_method_used(driver):
    ref = driver.provider.create(request(method=None)).provider_ref
    driver.pay(ref, "bancontact")
    truth = driver.provider.fetch(ref)
    assert truth.status == Status.PAID and truth.method == Method.BANCONTACT
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
    assert truth.status == Status.PAID and truth.refunded_cents == 2000
    other = driver.provider.create(request()).provider_ref
    driver.pay(other, "card")
    driver.charge_back(other)
    assert driver.provider.fetch(other).charged_back_cents == 12345


def test_euro_only_methods(driver):
    assert driver.provider.supports(Method.IDEAL, "EUR")
    assert not driver.provider.supports(Method.IDEAL, "USD")
    assert not driver.provider.supports(Method.BANCONTACT, "GBP")
    assert driver.provider.supports(Method.CARD, "USD")


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


# ------------------------------------------------------------------ external providers
@pytest.mark.parametrize("name", ["mollie", "stripe"])
def test_unreachable_provider_is_a_provider_error(settings, name):
    closed = "http://127.0.0.1:9"  # discard port: nothing answers
    down = dataclasses.replace(
        settings,
        mollie_api_key=MOLLIE_KEY,
        mollie_api_url=closed,
        stripe_secret_key=STRIPE_KEY,
        stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
        stripe_api_url=closed,
    )
    provider = registry.get(name, down)
    with pytest.raises(ProviderError):
        provider.create(request())
    with pytest.raises(ProviderError):
        provider.fetch("tr_abcdef" if name == "mollie" else "cs_test_abc")


def test_wrong_key_is_a_provider_error(settings, mollie_stub, stripe_stub):
    mollie = registry.get(
        "mollie",
        dataclasses.replace(
            settings,
            mollie_api_key="test_wrongwrongwrongwrongwrongwrong",
            mollie_api_url=mollie_stub.url,
        ),
    )
    with pytest.raises(ProviderError):
        mollie.create(request())
    stripe_provider = registry.get(
        "stripe",
        dataclasses.replace(
            settings, stripe_secret_key="sk_test_wrong", stripe_api_url=stripe_stub.url
        ),
    )
    with pytest.raises(ProviderError):
        stripe_provider.create(request())


def test_mollie_gets_a_webhook_url_only_when_it_is_public(settings, mollie_stub):
    provider = _mollie(settings, mollie_stub).provider
    provider.create(request(webhook_url="http://127.0.0.1:5000/webhooks/mollie"))
    local = mollie_stub.requests[-1]
    provider.create(request(webhook_url="https://pay.example.com/webhooks/mollie", method=None))
    public = mollie_stub.requests[-1]
    assert "webhookUrl" not in local.body
    assert public.body["webhookUrl"] == "https://pay.example.com/webhooks/mollie"
    assert public.body["method"] == ["ideal", "bancontact", "paypal", "creditcard"]
    assert public.body["amount"] == {"currency": "EUR", "value": "123.45"}
    assert public.body["redirectUrl"] == "https://pay.example.com/pay/return/abc"
    assert public.headers.get("Idempotency-Key")  # the SDK makes creates safe to retry


def test_stripe_session_expires_within_the_hour_and_offers_the_methods(settings, stripe_stub):
    provider = _stripe(settings, stripe_stub).provider
    provider.create(request(method=None, locale="fr_BE"))
    sent = stripe_stub.requests[-1].body
    assert abs(int(sent["expires_at"]) - (time.time() + 3600)) < 60
    assert sent["payment_method_types"] == ["ideal", "bancontact", "paypal", "card"]
    assert sent["line_items"][0]["price_data"] == {
        "currency": "eur",
        "unit_amount": "12345",
        "product_data": {"name": "Invoices F-1, F-2"},
    }
    assert sent["locale"] == "fr" and sent["client_reference_id"] == "ref-123"


def test_stripe_refund_event_leads_to_the_session(settings, stripe_stub):
    driver = _stripe(settings, stripe_stub)
    ref = driver.provider.create(request()).provider_ref
    driver.pay(ref, "card")
    driver.refund(ref, 12345)
    charge = stripe_stub._charge(ref)
    body, header = stripe_stub.event("charge.refunded", charge)
    assert (
        driver.provider.parse_webhook(WebhookRequest(body, {"stripe-signature": header}, {})) == ref
    )
    other, other_header = stripe_stub.event("customer.created", {"id": "cus_1"})
    with pytest.raises(Ignored):
        driver.provider.parse_webhook(WebhookRequest(other, {"stripe-signature": other_header}, {}))


def test_stripe_pending_async_payment(settings, stripe_stub):
    driver = _stripe(settings, stripe_stub)
    ref = driver.provider.create(request()).provider_ref
    stripe_stub.pending(ref)
    assert driver.provider.fetch(ref).status == Status.PENDING


def test_the_sandbox_never_runs_in_production(settings):
    production = dataclasses.replace(settings, app_env="production")
    with pytest.raises(KeyError):
        registry.get("sandbox", production)
