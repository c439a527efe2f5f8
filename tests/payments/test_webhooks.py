"""Webhooks and the payment state machine: idempotent, ordered by the provider's truth."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.db import db
from portal.domain.payments import service
from portal.domain.payments.providers.base import ProviderStatus, Status
from portal.models import Allocation, Invoice, OutboxMessage, Payment, WebhookDelivery
from tests.factories import create_debtor, create_invoice
from tests.payments.helpers import provider_says, started


def deliver(client, ref):
    return client.post("/webhooks/sandbox", data={"id": ref})


def test_state_table_refuses_illegal_moves():
    payment = Payment(status="paid")
    with pytest.raises(service.IllegalTransition):
        service.apply_status(payment, Status.OPEN)
    assert service.apply_status(payment, Status.PAID) is False  # repeated: no change
    assert service.apply_status(payment, Status.REFUNDED) is True
    failed = Payment(status="failed")
    with pytest.raises(service.IllegalTransition):
        service.apply_status(failed, Status.PAID)


def test_webhook_books_once_however_often_it_comes(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=5000)
    payment = started(app, debtor, [invoice])
    provider_says(payment, Status.PAID)
    answers = [deliver(client, payment.provider_ref) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert {a.get_data(as_text=True) for a in answers} == {"queued"}  # applied by the worker
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 1
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "paid"
    receipts = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "receipt")
    )
    assert receipts == 1
    log = db.session.scalars(select(WebhookDelivery.outcome).order_by(WebhookDelivery.id)).all()
    assert log == ["applied"] + ["unchanged"] * 4


def test_forged_and_unknown_deliveries_change_nothing(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    forged = client.post("/webhooks/sandbox", data={"id": "'; drop table payment; --"})
    assert forged.status_code == 400
    unknown = deliver(client, "sbx_doesnotexist123")
    assert unknown.status_code == 200
    assert client.post("/webhooks/nosuchprovider", data={"id": "x"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == "open"
    outcomes = db.session.scalars(select(WebhookDelivery.outcome).order_by(WebhookDelivery.id))
    assert list(outcomes) == ["forged", "unknown"]


def test_a_late_failed_event_after_paid_is_logged_not_applied(app):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    truth = ProviderStatus(payment.provider_ref, Status.PAID, payment.amount_cents, "EUR")
    service.apply_truth(db.session(), payment, truth, None)
    late = ProviderStatus(payment.provider_ref, Status.FAILED, payment.amount_cents, "EUR")
    outcome = service.apply_truth(db.session(), payment, late, None)
    assert outcome.changed is False and "illegal" in outcome.note
    assert payment.status == "paid" and len(payment.allocations) == 1


def test_refund_reopens_the_invoice_and_shows_in_the_timeline(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=8000)
    payment = started(app, debtor, [invoice])
    provider_says(payment, Status.PAID)
    deliver(client, payment.provider_ref)
    provider_says(payment, Status.PAID, refunded_cents=3000)
    deliver(client, payment.provider_ref)
    last = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id.desc())).first()
    assert last.outcome == "applied" and last.detail == "paid -> refunded"
    db.session.expire_all()
    payment = db.session.get(Payment, payment.id)
    reopened = db.session.get(Invoice, invoice.id)
    assert payment.status == "refunded" and payment.refunded_cents == 3000
    assert reopened.status == "open" and reopened.open_cents == 3000
    from tests.conftest import login_as

    login_as(client, debtor)
    detail = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "€30.00 refunded" in detail


def test_chargeback_reopens_everything(app, client):
    debtor = create_debtor()
    a = create_invoice(debtor, total_cents=1000)
    b = create_invoice(debtor, total_cents=2000)
    payment = started(app, debtor, [a, b])
    provider_says(payment, Status.PAID, charged_back_cents=3000)  # paid, then reversed
    deliver(client, payment.provider_ref)
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == "charged_back"
    assert db.session.get(Invoice, a.id).open_cents == 1000
    assert db.session.get(Invoice, b.id).open_cents == 2000


def test_an_amount_that_differs_is_flagged(app):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=5000)
    payment = started(app, debtor, [invoice])
    more = ProviderStatus(payment.provider_ref, Status.PAID, 7000, "EUR")
    service.apply_truth(db.session(), payment, more, None)
    assert "received EUR 70.00, asked EUR 50.00" in payment.flag
    assert payment.unallocated_cents == 2000  # the debtor's credit, not lost
    assert db.session.get(Invoice, invoice.id).open_cents == 0


def test_two_payments_racing_for_one_invoice_leave_a_credit(app):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=5000)
    first = started(app, debtor, [invoice])
    second = started(app, debtor, [invoice])
    for payment in (first, second):
        truth = ProviderStatus(payment.provider_ref, Status.PAID, 5000, "EUR")
        service.apply_truth(db.session(), payment, truth, None)
    assert db.session.get(Invoice, invoice.id).open_cents == 0
    assert second.unallocated_cents == 5000 and "credit balance" in second.flag


def test_a_delivery_is_applied_once_even_if_its_task_runs_again(app):
    from portal import runtime
    from portal.domain.payments import webhooks
    from portal.domain.payments.providers.base import WebhookRequest

    debtor = create_debtor()
    payment = started(app, debtor, [create_invoice(debtor)])
    provider_says(payment, Status.PAID)
    with app.test_request_context():
        provider = runtime.provider("sandbox")
        request = WebhookRequest(b"", {}, {"id": payment.provider_ref})
        answer = webhooks.accept(db.session(), provider, request)
        db.session.commit()
        first = webhooks.process(db.session(), provider, answer.delivery.id, None)
        db.session.commit()
        again = webhooks.process(db.session(), provider, answer.delivery.id, None)
        db.session.commit()
    assert (first, again) == ("applied", "applied")
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 1


def test_unreachable_provider_leaves_the_delivery_queued_for_a_retry(app, monkeypatch):
    from portal import runtime
    from portal.domain.payments import webhooks
    from portal.domain.payments.providers.base import ProviderError, WebhookRequest
    from portal.domain.payments.providers.sandbox import SandboxProvider

    debtor = create_debtor()
    payment = started(app, debtor, [create_invoice(debtor)])
    payment_id = payment.id

    def down(self, ref):
        raise ProviderError("connection refused")

    with app.test_request_context():
        provider = runtime.provider("sandbox")
        answer = webhooks.accept(
            db.session(), provider, WebhookRequest(b"", {}, {"id": payment.provider_ref})
        )
        db.session.commit()
        delivery_id = answer.delivery.id
        monkeypatch.setattr(SandboxProvider, "fetch", down)
        with pytest.raises(ProviderError):
            webhooks.process(db.session(), provider, delivery_id, None)
        db.session.rollback()
    assert db.session.get(WebhookDelivery, delivery_id).outcome == "queued"
    assert db.session.get(Payment, payment_id).status == "open"
