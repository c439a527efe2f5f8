"""The portal's whole payment flow through Mollie and Stripe (local stubs, real SDKs)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from portal.db import db
from portal.models import Invoice, Payment, WebhookDelivery
from tests.conftest import csrf_from, login_as
from tests.factories import create_debtor, create_invoice
from tests.payments.helpers import checkout_of


def start(client, debtor, *invoices):
    login_as(client, debtor)
    ids = [i.id for i in invoices]
    page = client.get("/pay", query_string={"invoice": ids})
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/pay", data={"csrf_token": token, "invoice": ids, "method": "ideal"})


def signed_event(client, stripe_stub, kind, ref):
    """Post a Stripe event about the session `ref` (or its charge), signed as Stripe does."""
    obj = stripe_stub._charge(ref) if kind.startswith("charge.") else stripe_stub.sessions[ref]
    body, header = stripe_stub.event(kind, obj)
    return client.post(
        "/webhooks/stripe",
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )


def test_mollie_payment_from_portal_to_booking(client, use_provider, mollie_stub):
    use_provider("mollie")
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=4995)
    response = start(client, debtor, invoice)
    assert checkout_of(client, response).startswith(f"{mollie_stub.url}/checkout/")
    payment = db.session.scalar(select(Payment))
    assert payment.provider == "mollie" and payment.provider_ref.startswith("tr_")
    sent = mollie_stub.requests[-1].body
    assert sent["amount"] == {"currency": "EUR", "value": "49.95"} and sent["method"] == "ideal"
    assert "webhookUrl" not in sent  # portal.test is not public: Mollie would refuse it

    mollie_stub.pay(payment.provider_ref)
    assert client.post("/webhooks/mollie", data={"id": payment.provider_ref}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "paid"
    assert db.session.scalar(select(WebhookDelivery.outcome)) == "applied"
    # a second, unknown id changes nothing
    client.post("/webhooks/mollie", data={"id": "tr_unknown999"})
    outcomes = db.session.scalars(select(WebhookDelivery.outcome).order_by(WebhookDelivery.id))
    assert list(outcomes) == ["applied", "unknown"]


def test_mollie_status_check_at_return_without_a_webhook(client, use_provider, mollie_stub):
    use_provider("mollie")
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    start(client, debtor, invoice)
    payment = db.session.scalar(select(Payment))
    mollie_stub.fail(payment.provider_ref)
    page = client.get(f"/pay/return/{payment.public_id}").get_data(as_text=True)
    assert "The payment did not go through" in page


def test_stripe_payment_from_portal_to_booking_and_refund(client, use_provider, stripe_stub):
    use_provider("stripe")
    debtor = create_debtor()
    a = create_invoice(debtor, total_cents=1000)
    b = create_invoice(debtor, total_cents=2500)
    response = start(client, debtor, a, b)
    assert checkout_of(client, response).startswith(f"{stripe_stub.url}/c/pay/cs_test_")
    payment = db.session.scalar(select(Payment))
    stripe_stub.pay(payment.provider_ref, "ideal")

    body, header = stripe_stub.event(
        "checkout.session.completed", stripe_stub.sessions[payment.provider_ref]
    )
    unsigned = client.post("/webhooks/stripe", data=body, content_type="application/json")
    assert unsigned.status_code == 400
    signed = client.post(
        "/webhooks/stripe",
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )
    assert signed.status_code == 200
    db.session.expire_all()
    assert (
        db.session.get(Invoice, a.id).status == "paid"
        and db.session.get(Invoice, b.id).status == "paid"
    )

    stripe_stub.refund(payment.provider_ref, 2500)
    signed_event(client, stripe_stub, "charge.refunded", payment.provider_ref)
    db.session.expire_all()
    # newest booking is reversed first: the later-due invoice is open again
    assert db.session.get(Invoice, b.id).open_cents == 2500
    assert db.session.get(Invoice, a.id).open_cents == 0
    assert db.session.get(Payment, payment.id).status == "refunded"


def test_provider_down_when_paying_shows_a_clear_error(client, use_provider, app, monkeypatch):
    use_provider("mollie")
    monkeypatch.setitem(
        app.config,
        "SETTINGS",
        dataclasses.replace(app.config["SETTINGS"], mollie_api_url="http://127.0.0.1:9"),
    )
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    response = start(client, debtor, invoice)
    assert "/pay?" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "cannot be reached right now" in page
    assert db.session.scalar(select(Payment)) is None


@pytest.mark.parametrize("provider", ["mollie", "stripe"])
def test_an_instalment_is_paid_through_each_provider(
    client, use_provider, mollie_stub, stripe_stub, provider
):
    from portal.models import InstalmentPlan
    from tests.plans.test_progress import active_plan, overdue

    use_provider(provider)
    debtor = create_debtor()
    plan = active_plan(debtor, overdue(debtor, 30_000))
    first = plan.instalments[0]
    login_as(client, debtor)
    page = client.get("/pay", query_string={"instalment": first.id})
    token = csrf_from(page.get_data(as_text=True))
    client.post("/pay", data={"csrf_token": token, "instalment": first.id, "method": "ideal"})
    payment = db.session.scalar(select(Payment))
    assert (payment.provider, payment.amount_cents) == (provider, 10_000)
    if provider == "mollie":
        assert mollie_stub.requests[-1].body["amount"] == {"currency": "EUR", "value": "100.00"}
        mollie_stub.pay(payment.provider_ref)
        client.post("/webhooks/mollie", data={"id": payment.provider_ref})
    else:
        stripe_stub.pay(payment.provider_ref, "ideal")
        signed_event(client, stripe_stub, "checkout.session.completed", payment.provider_ref)
    db.session.expire_all()
    paid = [i.paid_cents for i in db.session.get(InstalmentPlan, plan.id).instalments]
    assert paid == [10_000, 0, 0]
