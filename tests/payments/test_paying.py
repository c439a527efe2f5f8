"""Paying in the portal with the sandbox: choosing, tampering, coming back, receipts."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from portal.db import db
from portal.models import Allocation, AuditEvent, Invoice, OutboxMessage, Payment, SandboxPayment
from tests.conftest import csrf_from, login_as
from tests.factories import business_today, create_debtor, create_invoice, create_segment
from tests.payments.helpers import checkout_of


def pay_form(client, *invoices):
    """Open the pay page for `invoices` and return its CSRF token."""
    page = client.get("/pay", query_string={"invoice": [i.id for i in invoices]})
    assert page.status_code == 200
    return page, csrf_from(page.get_data(as_text=True))


def start(client, invoices, **form):
    _page, token = pay_form(client, *invoices)
    data = {"csrf_token": token, "invoice": [i.id for i in invoices], "method": "ideal"}
    data.update(form)
    return client.post("/pay", data=data)


def sandbox_decide(client, checkout_url, outcome, method="ideal"):
    path = checkout_url.replace("http://portal.test", "")
    page = client.get(path)
    assert page.status_code == 200
    return client.post(
        path,
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "outcome": outcome,
            "method": method,
        },
    )


def test_pay_two_invoices_in_one_payment(client):
    debtor = create_debtor()
    older = create_invoice(debtor, total_cents=10000)
    newer = create_invoice(debtor, total_cents=2550)
    login_as(client, debtor)

    page, _ = pay_form(client, older, newer)
    html = page.get_data(as_text=True)
    assert "€125.50" in html and older.number in html and newer.number in html

    response = start(client, [older, newer])
    checkout = checkout_of(client, response)
    assert "/sandbox/checkout/sbx_" in checkout
    payment = db.session.scalar(select(Payment))
    assert payment.amount_cents == 12550 and payment.status == "open"

    back = sandbox_decide(client, checkout, "paid")
    assert (
        back.status_code == 303 and f"/pay/return/{payment.public_id}" in back.headers["Location"]
    )
    receipt = client.get(f"/pay/return/{payment.public_id}").get_data(as_text=True)
    assert "Thank you, your payment was received" in receipt
    assert older.number in receipt and newer.number in receipt

    db.session.expire_all()
    assert db.session.get(Invoice, older.id).status == "paid"
    assert db.session.get(Invoice, newer.id).open_cents == 0
    booked = db.session.scalars(select(Allocation).order_by(Allocation.id)).all()
    assert [(a.invoice_id, a.amount_cents) for a in booked] == [(older.id, 10000), (newer.id, 2550)]
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "receipt"))
    assert mail.recipient == debtor.primary_email and "€125.50" in mail.subject


def test_ticks_are_remembered_across_pages_and_only_the_debtors_own_count(client):
    debtor = create_debtor()
    a = create_invoice(debtor, total_cents=1000)
    b = create_invoice(debtor, total_cents=2000)
    stranger = create_invoice(create_debtor(), total_cents=999999)
    login_as(client, debtor)
    token = csrf_from(client.get("/invoices").get_data(as_text=True))
    hx = {"HX-Request": "true", "X-CSRFToken": token}

    def tick(shown, ticked):
        data = {"shown": [i.id for i in shown], "invoice": [i.id for i in ticked]}
        return client.post("/pay/selection", data=data, headers=hx).get_data(as_text=True)

    assert "1 invoice selected" in tick([a], [a])  # page 1
    bar = tick([b, stranger], [b, stranger])  # "page 2", with a forged id
    assert "2 invoices selected" in bar and "€30.00" in bar and "9,999.99" not in bar
    assert "1 invoice selected" in tick([a], [])  # a cleared on page 1, b stays
    page = client.get("/pay", query_string={"selected": "1"}).get_data(as_text=True)
    assert "Pay 1 invoice" in page and "€20.00" in page


def test_pay_all_overdue_leaves_out_what_is_disputed_in_a_plan_or_not_yet_due(client):
    debtor = create_debtor()
    late = business_today() - dt.timedelta(days=10)
    create_invoice(debtor, number="LATE-1", total_cents=1000, due_date=late)
    create_invoice(debtor, number="LATE-2", total_cents=2000, due_date=late)
    create_invoice(
        debtor, number="DISPUTED", total_cents=4000, due_date=late, hold_reason="dispute"
    )
    create_invoice(debtor, number="IN-PLAN", total_cents=8000, due_date=late, hold_reason="plan")
    create_invoice(debtor, number="LATER", total_cents=16000, due_date=late + dt.timedelta(days=30))
    create_invoice(create_debtor(), number="NOT-MINE", total_cents=500, due_date=late)
    login_as(client, debtor)
    overview = client.get("/overview").get_data(as_text=True)
    assert "Pay all overdue (€30.00)" in overview
    assert "Pay everything open (€270.00)" in overview  # all but the disputed one
    page = client.get("/pay", query_string={"all": "overdue"}).get_data(as_text=True)
    assert "Pay 2 invoices" in page and "LATE-1" in page and "LATE-2" in page
    for number in ("DISPUTED", "IN-PLAN", "LATER", "NOT-MINE"):
        assert number not in page
    everything = client.get("/pay", query_string={"all": "open"}).get_data(as_text=True)
    assert "Pay 4 invoices" in everything and "DISPUTED" not in everything


def test_another_debtors_invoice_is_refused_and_never_shown(client):
    mine = create_debtor()
    own = create_invoice(mine)
    theirs = create_invoice(create_debtor(), number="SECRET-42")
    login_as(client, mine)
    page = client.get("/pay", query_string={"invoice": [own.id, theirs.id]})
    assert page.status_code == 422 and "SECRET-42" not in page.get_data(as_text=True)
    _page, token = pay_form(client, own)
    response = client.post(
        "/pay", data={"csrf_token": token, "invoice": [own.id, theirs.id], "method": "ideal"}
    )
    assert response.status_code == 303 and "/sandbox/" not in response.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_paid_invoice_cannot_be_paid_again(client):
    debtor = create_debtor()
    paid = create_invoice(debtor, open_cents=0, status="paid")
    login_as(client, debtor)
    assert client.get("/pay", query_string={"invoice": paid.id}).status_code == 422


def test_the_browser_cannot_set_the_amount(client):
    debtor = create_debtor()  # no segment: part payments are not allowed
    invoice = create_invoice(debtor, total_cents=50000)
    login_as(client, debtor)
    response = start(client, [invoice], amount="1,00", amount_cents="100")
    assert response.status_code == 303 and "/sandbox/" not in response.headers["Location"]
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Only the full amount can be paid online." in follow
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    # extra fields are ignored: the amount is the open amount from the database
    response = start(client, [invoice], amount_cents="100", total="1")
    assert db.session.scalar(select(Payment.amount_cents)) == 50000


def test_part_payment_within_the_segment_rules(client):
    segment = create_segment(allow_partial=True, partial_min_cents=2500)
    debtor = create_debtor(segment_id=segment.id)
    older = create_invoice(debtor, total_cents=10000)
    newer = create_invoice(debtor, total_cents=10000)
    login_as(client, debtor)
    too_low = start(client, [older, newer], amount="10,00")
    assert "/sandbox/" not in too_low.headers["Location"]
    too_high = start(client, [older, newer], amount="300")
    assert "/sandbox/" not in too_high.headers["Location"]
    ok = start(client, [older, newer], amount="120,00")
    sandbox_decide(client, checkout_of(client, ok), "paid")
    payment = db.session.scalar(select(Payment))
    client.get(f"/pay/return/{payment.public_id}")
    db.session.expire_all()
    # oldest due date first: the older invoice is paid, the rest goes to the newer one
    assert db.session.get(Invoice, older.id).open_cents == 0
    assert db.session.get(Invoice, newer.id).open_cents == 8000


def test_failed_payment_leaves_invoices_open_and_offers_a_retry(client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    login_as(client, debtor)
    response = start(client, [invoice])
    sandbox_decide(client, checkout_of(client, response), "failed")
    payment = db.session.scalar(select(Payment))
    page = client.get(f"/pay/return/{payment.public_id}").get_data(as_text=True)
    assert "The payment did not go through" in page and "Pay another way" in page
    assert f'name="invoice" value="{invoice.id}"' in page  # the pay form again, right here
    assert "QR code for the transfer" in page  # and the bank transfer with its QR
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).open_cents == invoice.total_cents
    assert db.session.get(Payment, payment.id).failed_at is not None


def test_processing_page_polls_until_final(client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    login_as(client, debtor)
    response = start(client, [invoice])
    payment = db.session.scalar(select(Payment))
    waiting = client.get(f"/pay/return/{payment.public_id}").get_data(as_text=True)
    assert "waiting for confirmation" in waiting and 'hx-trigger="every 2s"' in waiting
    record = db.session.scalar(select(SandboxPayment))
    record.status = "paid"
    db.session.commit()
    payment = db.session.get(Payment, payment.id)
    payment.checked_at = None  # the page re-asks the provider only every few seconds
    db.session.commit()
    partial = client.get(
        f"/pay/return/{payment.public_id}", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "Thank you" in partial and "hx-trigger" not in partial
    assert response.status_code == 303


def test_return_page_of_an_unknown_payment_is_404(client):
    assert client.get("/pay/return/not-a-real-id").status_code == 404


def test_timeline_shows_the_payment(client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=4200)
    login_as(client, debtor)
    response = start(client, [invoice])
    sandbox_decide(client, checkout_of(client, response), "paid")
    payment = db.session.scalar(select(Payment))
    client.get(f"/pay/return/{payment.public_id}")
    detail = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert re.search(r"€42\.00.*iDEAL", detail, re.S)
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.invoice_id == invoice.id)
    ).all()
    assert "payment.started" in actions and "payment.received" in actions


def test_bank_transfer_shows_iban_reference_and_an_epc_qr(client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=2550)
    login_as(client, debtor)
    page, _token = pay_form(client, invoice)
    html = page.get_data(as_text=True)
    assert "NL91ABNA0417164300" in html and invoice.number in html
    assert 'src="data:image/svg+xml' in html


def test_epc_qr_only_where_it_applies():
    from portal.domain.payments.transfer import epc_qr_data_uri

    assert epc_qr_data_uri("Brand", "NL91ABNA0417164300", 2550, "INV-1").startswith("data:")
    assert epc_qr_data_uri("Brand", "", 2550, "INV-1") is None
    assert epc_qr_data_uri("Brand", "NL91ABNA0417164300", 0, "INV-1") is None
