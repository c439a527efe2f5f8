"""Art. 6:44 BW wherever money for an invoice arrives: its claim's costs first, then the
interest, then the principal; the portal pay page, a pay-link, an API pay-link, and an
import that says the invoice was paid elsewhere."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import db
from portal.domain.imports import engine as imports
from portal.domain.payments import paylinks, service
from portal.domain.payments.providers.base import ProviderStatus, Status
from portal.mails.compose import pay_link_url
from portal.models import Claim, ClaimInvoice, Invoice, Payment, ReminderStep, Segment
from tests.conftest import csrf_from, login_as
from tests.factories import create_brand, create_debtor, create_invoice
from tests.imports.test_import import csv_bytes
from tests.payments.helpers import checkout_of
from tests.payments.test_paying import sandbox_decide, start


def with_claim(invoice, costs=4_000, interest=500):
    """A claim over `invoice` whose costs and interest were booked (as the run does)."""
    step = db.session.scalar(select(ReminderStep).where(ReminderStep.kind == "fourteen_day"))
    claim = Claim(
        debtor_id=invoice.debtor_id,
        brand_id=invoice.brand_id,
        step_id=step.id,
        regime="nl_b2c",
        opened_on=invoice.due_date + dt.timedelta(days=28),
    )
    db.session.add(claim)
    db.session.flush()
    db.session.add(ClaimInvoice(claim_id=claim.id, invoice_id=invoice.id))
    day = invoice.due_date + dt.timedelta(days=45)
    lines = []
    for kind, cents in (("costs", costs), ("interest", interest)):
        line = Invoice(
            brand_id=invoice.brand_id,
            debtor_id=invoice.debtor_id,
            number=f"{kind.upper()}-C{claim.id}",
            kind=kind,
            invoice_date=day,
            due_date=day,
            total_cents=cents,
            open_cents=cents,
            reference=invoice.number,
            description=claim.opened_on.isoformat(),
            claim_id=claim.id,
        )
        db.session.add(line)
        lines.append(line)
    db.session.commit()
    return lines


def open_of(*rows):
    db.session.expire_all()
    return [db.session.get(Invoice, r.id).open_cents for r in rows]


def pay(client, path, outcome="paid"):
    page = client.get(path)
    assert page.status_code == 200
    started = client.post(
        path, data={"csrf_token": csrf_from(page.get_data(True)), "method": "ideal"}
    )
    sandbox_decide(client, checkout_of(client, started), outcome)
    payment = db.session.scalars(select(Payment).order_by(Payment.id.desc())).first()
    return payment, client.get(f"/pay/return/{payment.public_id}").get_data(as_text=True)


def test_paying_an_invoice_in_the_portal_takes_its_costs_and_interest_along(client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=12_100)
    costs, interest = with_claim(invoice)
    login_as(client, debtor)
    page = client.get(f"/pay?invoice={invoice.id}").get_data(as_text=True)
    assert "Collection costs" in page and "Statutory interest" in page
    assert "€166.00" in page  # 121.00 + 40.00 + 5.00: the amount asked says so
    started = start(client, [invoice])
    sandbox_decide(client, checkout_of(client, started), "paid")
    payment = db.session.scalars(select(Payment)).one()
    receipt = client.get(f"/pay/return/{payment.public_id}").get_data(as_text=True)
    assert payment.amount_cents == 16_600
    assert open_of(invoice, costs, interest) == [0, 0, 0]
    assert "Collection costs" in receipt and "settled the collection costs first" in receipt


def test_a_part_payment_settles_costs_then_interest_then_the_principal(client):
    debtor = create_debtor(segment_id=None)
    segment = Segment(name="Part payers", allow_partial=True, partial_min_cents=2_500)
    db.session.add(segment)
    db.session.commit()
    debtor.segment_id = segment.id
    db.session.commit()
    invoice = create_invoice(debtor, total_cents=12_100)
    costs, interest = with_claim(invoice)
    login_as(client, debtor)
    started = start(client, [invoice], amount="50,00")  # the debtor chose only the invoice
    sandbox_decide(client, checkout_of(client, started), "paid")
    payment = db.session.scalars(select(Payment)).one()
    client.get(f"/pay/return/{payment.public_id}")
    assert open_of(costs, interest, invoice) == [0, 0, 12_100 - (5_000 - 4_000 - 500)]


def test_a_pay_link_made_before_the_costs_were_booked_pays_them_first(client, app):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=12_100)
    link = paylinks.create(db.session(), debtor, [invoice], actor="test")
    db.session.commit()
    costs, interest = with_claim(invoice)
    path = pay_link_url(link, app.config["SETTINGS"]).removeprefix("http://portal.test")
    payment, receipt = pay(client, path)
    assert payment.amount_cents == 16_600 and payment.pay_link_id == link.id
    assert open_of(invoice, costs, interest) == [0, 0, 0]
    assert "Statutory interest" in receipt


def test_an_api_pay_link_pays_costs_first_even_when_less_arrives(client):
    from tests.api.test_api import auth, body, make_key

    _key, raw = make_key()
    created = client.post("/api/v1/pay-links", json=body(), headers=auth(raw)).json
    invoice = db.session.get(Invoice, created["invoice"]["id"])
    costs, interest = with_claim(invoice)
    path = created["url"].removeprefix("http://portal.test")
    page = client.get(path).get_data(as_text=True)
    assert "Collection costs" in page
    token = csrf_from(page)
    client.post(path, data={"csrf_token": token, "method": "ideal"})
    payment = db.session.scalars(select(Payment)).one()
    assert payment.amount_cents == 16_600
    # the bank sends only the invoice's own 121.00: costs and interest come first
    truth = ProviderStatus(payment.provider_ref, Status.PAID, 12_100, "EUR")
    service.apply_truth(db.session(), service.locked(db.session(), payment.id), truth, None)
    db.session.commit()
    assert open_of(costs, interest, invoice) == [0, 0, 4_500]


HEADER = "Factuurnummer Debiteurnummer Naam E-mail Factuurdatum Vervaldatum Bedrag Openstaand"
HEADER = HEADER.split()


def test_an_import_that_shows_the_invoice_paid_elsewhere_settles_costs_first_and_only_once(app):
    brand = create_brand()
    debtor = create_debtor(brand, number="D1", emails=["anna@example.com"])
    invoice = create_invoice(
        debtor,
        number="F-1",
        invoice_date=dt.date(2026, 9, 1),
        due_date=dt.date(2026, 9, 15),
        total_cents=12_100,
    )
    costs, interest = with_claim(invoice)
    row = ["F-1", "D1", "Anna", "anna@example.com", "01-09-2026", "15-09-2026", "121,00"]
    for attempt in range(2):  # the same export twice: the second changes nothing
        data = csv_bytes([HEADER, [*row, "0,00"]])
        preview = imports.preview(db.session(), data, brand=brand, force=True)
        assert not preview.errors, preview.errors
        assert preview.updated_invoices == (1 if attempt == 0 else 0)
        if preview.updated_invoices:
            imports.commit(db.session(), preview, brand=brand, by="test")
            db.session.commit()
        # 121.00 arrived elsewhere: 40.00 costs and 5.00 interest first, 76.00 principal
        assert open_of(costs, interest, invoice) == [0, 0, 4_500]
