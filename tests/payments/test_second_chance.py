"""Second chance: a fresh pay-link mailed an hour after a failed payment, over real SMTP."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from portal import runtime
from portal.db import db
from portal.domain.payments import second_chance, service
from portal.domain.payments.providers.base import ProviderStatus, Status
from portal.models import Invoice, OutboxMessage, Payment
from portal.tasks import send_outbox_now
from tests.conftest import body_text, csrf_from
from tests.factories import create_debtor, create_invoice
from tests.payments.helpers import checkout_of, started


def fail(payment, status=Status.FAILED):
    truth = ProviderStatus(payment.provider_ref, status, payment.amount_cents, "EUR")
    service.apply_truth(db.session(), payment, truth, None)
    db.session.commit()


def run(app, minutes_later=61):
    with app.test_request_context():
        later = service.utcnow() + dt.timedelta(minutes=minutes_later)
        sent = second_chance.send_due(db.session(), runtime.mails(), now=later)
        db.session.commit()
    return sent


def count(kind):
    return db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == kind)
    )


def test_failed_payment_gets_one_second_chance_mail_with_a_working_link(app, client, inbox):
    debtor = create_debtor(language="en")
    invoice = create_invoice(debtor, total_cents=3300)
    payment = started(app, debtor, [invoice])
    fail(payment)
    assert run(app, minutes_later=30) == 0  # not yet: the delay is an hour
    assert run(app) == 1
    assert run(app) == 0  # once per failed payment
    assert count("second_chance") == 1
    send_outbox_now()
    mail = inbox.wait_for(debtor.primary_email)
    text = body_text(mail)
    assert "did not go through" in str(mail["Subject"]) and invoice.number in text
    link = re.search(r"http://portal\.test/p/\S+", text).group(0)

    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and invoice.number in html and "€33.00" in html
    assert debtor.address_line not in html  # nothing else personal
    paid = client.post(link, data={"csrf_token": csrf_from(html), "method": "bancontact"})
    assert "/sandbox/checkout/" in checkout_of(client, paid)
    second = db.session.scalar(select(Payment).where(Payment.id != payment.id))
    assert second.pay_link_id is not None and second.amount_cents == 3300


def test_no_second_chance_when_paid_meanwhile(app):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    fail(payment, Status.EXPIRED)
    invoice = db.session.get(Invoice, invoice.id)
    invoice.open_cents, invoice.status = 0, "paid"
    db.session.commit()
    assert run(app) == 0 and count("second_chance") == 0


def test_no_second_chance_when_the_debtor_tried_again(app):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    fail(payment, Status.CANCELED)
    started(app, debtor, [invoice])  # a new attempt decides its own second chance
    assert run(app) == 0


def test_admin_can_send_one_by_hand(app):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    with app.test_request_context():
        assert second_chance.send_now(
            db.session(), runtime.mails(), debtor, [invoice], actor="admin:1"
        )
        db.session.commit()
    assert count("second_chance") == 1
