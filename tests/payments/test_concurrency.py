"""The same webhook delivered 50 times, processed by 50 workers at once, books once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portal import runtime
from portal.db import db
from portal.domain.payments import webhooks
from portal.domain.payments.providers.base import Status, WebhookRequest
from portal.models import Allocation, Invoice, OutboxMessage, WebhookDelivery
from tests.factories import create_debtor, create_invoice
from tests.payments.helpers import provider_says, started

pytestmark = [pytest.mark.committed, pytest.mark.usefixtures("committed")]


def test_fifty_concurrent_deliveries_book_once(app):
    debtor = create_debtor()
    invoices = [create_invoice(debtor, total_cents=1000 * (i + 1)) for i in range(3)]
    payment = started(app, debtor, invoices)
    provider_says(payment, Status.PAID)
    ref = payment.provider_ref
    db.session.remove()

    with app.test_request_context():
        request = WebhookRequest(b"id=" + ref.encode(), {}, {"id": ref})
        deliveries = [
            webhooks.accept(db.session(), runtime.provider("sandbox"), request).delivery
            for _ in range(50)
        ]
        db.session.commit()
        ids = [d.id for d in deliveries]
        db.session.remove()

    barrier = threading.Barrier(50)
    answers: list[str] = []
    errors: list[BaseException] = []

    def work(delivery_id: int) -> None:
        try:
            with app.test_request_context():
                barrier.wait()
                outcome = webhooks.process(
                    db.session(), runtime.provider("sandbox"), delivery_id, runtime.mails()
                )
                db.session.commit()
                answers.append(outcome)
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)
        finally:
            db.session.remove()

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sorted(answers) == ["applied"] + ["unchanged"] * 49
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 3
    assert db.session.scalar(select(func.sum(Invoice.open_cents))) == 0
    receipts = (
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "receipt")
    )
    assert db.session.scalar(receipts) == 1
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 50
