"""Admin pages for payments: list and filters, detail with the webhook log, re-check,
export, pay-links and second chances from the invoice page."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from portal.db import db
from portal.domain.payments import paylinks
from portal.domain.payments.providers.base import ProviderError, Status
from portal.domain.payments.providers.sandbox import SandboxProvider
from portal.models import AuditEvent, Invoice, OutboxMessage, PayLink, Payment
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import login_as
from tests.factories import create_admin, create_debtor, create_invoice
from tests.payments.helpers import provider_says, started


def clerk(client):
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")


def test_payments_list_filters_by_status_and_flag(app, client):
    debtor = create_debtor(name="Pieter Post")
    paid = started(app, debtor, [create_invoice(debtor, number="P-1")])
    started(app, debtor, [create_invoice(debtor, number="P-2")])
    provider_says(paid, Status.PAID)
    client.post("/webhooks/sandbox", data={"id": paid.provider_ref})
    flagged = db.session.get(Payment, paid.id)
    flagged.flag = "received EUR 1.00, asked EUR 121.00"
    db.session.commit()
    clerk(client)

    everything = client.get("/admin/payments").get_data(as_text=True)
    assert "P-1" in everything and "P-2" in everything and "Pieter Post" in everything
    only_paid = client.get("/admin/payments?status=paid").get_data(as_text=True)
    assert "P-1" in only_paid and "P-2" not in only_paid
    to_check = client.get("/admin/payments?flagged=1", headers={"HX-Request": "true"})
    assert "P-1" in to_check.get_data(as_text=True) and "<html" not in to_check.get_data(True)
    nothing = client.get("/admin/payments?q=nobody").get_data(as_text=True)
    assert "No payments match these filters." in nothing


def test_detail_shows_the_webhook_log_and_bookings(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, number="W-9", total_cents=7700)
    payment = started(app, debtor, [invoice])
    provider_says(payment, Status.PAID)
    client.post("/webhooks/sandbox", data={"id": payment.provider_ref})
    client.post("/webhooks/sandbox", data={"id": payment.provider_ref})
    clerk(client)
    page = client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert "open -&gt; paid" in page and "unchanged" in page
    assert "W-9" in page and "€77.00" in page


def test_recheck_books_a_payment_whose_webhook_never_came(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    provider_says(payment, Status.PAID)
    clerk(client)
    token = page_csrf(client, f"/admin/payments/{payment.id}")
    response = client.post(
        f"/admin/payments/{payment.id}/recheck", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Status changed: open → paid" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "paid"
    assert db.session.scalar(
        select(AuditEvent.action).where(AuditEvent.action == "admin.payment_rechecked")
    )


def test_recheck_with_the_provider_down_changes_nothing(app, client, monkeypatch):
    debtor = create_debtor()
    payment = started(app, debtor, [create_invoice(debtor)])
    clerk(client)
    token = page_csrf(client, f"/admin/payments/{payment.id}")

    def down(self, ref):
        raise ProviderError("timed out")

    monkeypatch.setattr(SandboxProvider, "fetch", down)
    response = client.post(
        f"/admin/payments/{payment.id}/recheck", data={"csrf_token": token}, follow_redirects=True
    )
    assert "could not be asked: timed out" in response.get_data(as_text=True)
    assert db.session.get(Payment, payment.id).status == "open"


def test_recheck_needs_the_csrf_token(app, client):
    debtor = create_debtor()
    payment = started(app, debtor, [create_invoice(debtor)])
    clerk(client)
    assert client.post(f"/admin/payments/{payment.id}/recheck").status_code == 400


def test_export_for_booking(app, client):
    debtor = create_debtor(name='=HYPERLINK("x")')
    payment = started(app, debtor, [create_invoice(debtor, number="E-1", total_cents=1250)])
    provider_says(payment, Status.PAID)
    client.post("/webhooks/sandbox", data={"id": payment.provider_ref})
    clerk(client)
    response = client.get("/admin/payments.csv?status=paid")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True)), delimiter=";"))
    header, row = rows[0], rows[1]
    record = dict(zip(header, row, strict=True))
    assert record["received"] == "12.50" and record["invoices"] == "E-1=12.50"
    assert record["debtor_name"].startswith("'=")  # no formula in a spreadsheet


def test_pay_links_created_shown_and_revoked_from_the_invoice_page(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, number="L-1")
    clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    client.post(f"/admin/invoices/{invoice.id}/pay-links", data={"csrf_token": token, "days": "30"})
    link = db.session.scalars(select(PayLink)).one()
    assert (link.expires_at - link.created_at).days == 30
    url_token = paylinks.token(link, "test-secret-key")
    page = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert f"/p/{url_token}" in page and "Active" in page

    unconfirmed = client.post(
        f"/admin/pay-links/{link.id}/revoke",
        data={"csrf_token": token, "invoice_id": invoice.id},
        follow_redirects=True,
    )
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    assert db.session.get(PayLink, link.id).status == "active"
    client.post(
        f"/admin/pay-links/{link.id}/revoke",
        data={"csrf_token": token, "invoice_id": invoice.id, "confirm": "1"},
    )
    assert client.get(f"/p/{url_token}").status_code == 410


def test_second_chance_by_hand(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    response = client.post(
        f"/admin/invoices/{invoice.id}/second-chance",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "fresh pay-link sent" in response.get_data(as_text=True)
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "second_chance"))
    assert mail.recipient == debtor.primary_email


def test_debtors_and_strangers_cannot_reach_payment_pages(app, client):
    debtor = create_debtor()
    payment = started(app, debtor, [create_invoice(debtor)])
    assert client.get("/admin/payments").status_code in (302, 303)
    login_as(client, debtor)
    assert client.get(f"/admin/payments/{payment.id}").status_code in (302, 303)
