"""Admin pages for payments: list and filters, detail with the webhook log, re-check,
export, pay-links and second chances from the invoice page."""

from __future__ import annotations

import csv
import html
import io

import pytest
from sqlalchemy import func, select

from portal.db import db
from portal.domain.payments import paylinks
from portal.domain.payments.providers.base import ProviderError, Status
from portal.domain.payments.providers.sandbox import SandboxProvider
from portal.models import (
    Allocation,
    AuditEvent,
    Invoice,
    OutboxMessage,
    PayLink,
    Payment,
    WebhookDelivery,
)
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import login_as
from tests.factories import create_admin, create_debtor, create_invoice
from tests.payments.helpers import provider_says, started


def clerk(client):
    """Log in as a clerk: payments are daily work, not only for full admins."""
    user = create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    return user


def paid_by_webhook(client, payment):
    provider_says(payment, Status.PAID)
    client.post("/webhooks/sandbox", data={"id": payment.provider_ref})


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# ------------------------------------------------------------------------- list
def test_payments_list_filters_by_status_and_flag(app, client):
    debtor = create_debtor(name="Pieter Post")
    paid = started(app, debtor, [create_invoice(debtor, number="P-1")])
    cancelled = started(app, debtor, [create_invoice(debtor, number="P-2")])
    started(app, debtor, [create_invoice(debtor, number="P-3")])
    paid_by_webhook(client, paid)
    provider_says(cancelled, Status.CANCELED)
    client.post("/webhooks/sandbox", data={"id": cancelled.provider_ref})
    flagged = db.session.get(Payment, paid.id)
    flagged.flag = "received EUR 1.00, asked EUR 121.00"
    db.session.commit()
    clerk(client)

    everything = client.get("/admin/payments").get_data(as_text=True)
    assert all(n in everything for n in ("P-1", "P-2", "P-3", "Pieter Post"))
    assert "Cancelled" in everything and ">test<" in everything  # sandbox = test mode
    assert everything.index("P-3") < everything.index("P-1")  # newest first

    only_paid = client.get("/admin/payments?status=paid").get_data(as_text=True)
    assert "P-1" in only_paid and "P-2" not in only_paid and "P-3" not in only_paid
    assert "/admin/payments.csv?status=paid" in only_paid  # the export follows the filter

    to_check = client.get("/admin/payments?flagged=1", headers={"HX-Request": "true"})
    rows = to_check.get_data(as_text=True)
    assert "<html" not in rows and rows.lstrip().startswith('<div id="payment-rows"')
    assert "P-1" in rows and "P-2" not in rows and "P-3" not in rows
    assert "HX-Request" in to_check.headers.get("Vary", "")

    by_ref = client.get(f"/admin/payments?q={cancelled.provider_ref}").get_data(as_text=True)
    assert "P-2" in by_ref and "P-1" not in by_ref
    by_number = client.get(f"/admin/payments?q={debtor.number}").get_data(as_text=True)
    assert "P-1" in by_number and "P-3" in by_number
    nothing = client.get("/admin/payments?q=nobody").get_data(as_text=True)
    assert "No payments match these filters." in nothing


def test_empty_list_says_where_payments_come_from(app, client):
    clerk(client)
    page = client.get("/admin/payments").get_data(as_text=True)
    assert "No payments yet." in page


# ----------------------------------------------------------------------- detail
def test_detail_shows_the_webhook_log_and_bookings(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, number="W-9", total_cents=7700)
    payment = started(app, debtor, [invoice])
    paid_by_webhook(client, payment)
    client.post("/webhooks/sandbox", data={"id": payment.provider_ref})
    assert count(WebhookDelivery, WebhookDelivery.payment_id == payment.id) == 2
    clerk(client)
    page = client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert "Applied" in page and "open -&gt; paid" in page and "No change" in page
    assert "127.0.0.1" in page
    assert "W-9" in page and "€77.00" in page and "Credit balance" in page
    assert payment.checkout_url and payment.checkout_url in page
    assert payment.provider_ref in page and payment.public_id in page


def test_detail_of_an_unknown_payment_is_404(app, client):
    clerk(client)
    assert client.get("/admin/payments/999999").status_code == 404


def test_flag_is_shown_prominently(app, client):
    debtor = create_debtor()
    payment = started(app, debtor, [create_invoice(debtor)])
    db.session.get(Payment, payment.id).flag = "two payments raced; credit kept"
    db.session.commit()
    clerk(client)
    page = client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert 'role="alert"' in page and "two payments raced; credit kept" in page


# ---------------------------------------------------------------------- recheck
def test_recheck_books_a_payment_whose_webhook_never_came(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    provider_says(payment, Status.PAID)
    user = clerk(client)
    token = page_csrf(client, f"/admin/payments/{payment.id}")
    response = client.post(f"/admin/payments/{payment.id}/recheck", data={"csrf_token": token})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Status changed: Open → Paid" in page
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "paid"
    assert count(Allocation, Allocation.payment_id == payment.id) == 1
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "admin.payment_rechecked")
    ).one()
    assert event.actor == f"admin:{user.id}"

    again = client.post(
        f"/admin/payments/{payment.id}/recheck", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Status unchanged: Paid" in again.get_data(as_text=True)
    assert count(Allocation, Allocation.payment_id == payment.id) == 1  # booked once


def test_recheck_with_the_provider_down_changes_nothing(app, client, monkeypatch):
    debtor = create_debtor()
    payment = started(app, debtor, [create_invoice(debtor)])
    provider_says(payment, Status.PAID)
    clerk(client)
    token = page_csrf(client, f"/admin/payments/{payment.id}")

    def down(self, ref):
        raise ProviderError("timed out")

    monkeypatch.setattr(SandboxProvider, "fetch", down)
    response = client.post(
        f"/admin/payments/{payment.id}/recheck", data={"csrf_token": token}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "could not be asked: timed out" in page and "Nothing was changed" in page
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == "open"
    assert count(AuditEvent, AuditEvent.action == "admin.payment_rechecked") == 0


# -------------------------------------------------------------------- pay-links
def test_pay_links_created_shown_and_revoked_from_the_invoice_page(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, number="L-1")
    user = clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    created = client.post(
        f"/admin/invoices/{invoice.id}/pay-links", data={"csrf_token": token, "days": "30"}
    )
    assert created.status_code == 303 and created.headers["Location"].endswith("#pay-links")
    link = db.session.scalars(select(PayLink)).one()
    assert (link.expires_at - link.created_at).days == 30
    assert link.created_by == f"admin:{user.id}"
    url_token = paylinks.token(link, "test-secret-key")
    assert client.get(f"/p/{url_token}").status_code == 200
    page = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert f"/p/{url_token}" in page and "Active" in page and "readonly" in page
    # the snippets a shop pastes: a button that opens the link in the top window, a QR
    assert "Embed in a shop or a mail" in page and "<svg" in page
    assert f'href="http://portal.test/p/{url_token}" target="_top"' in html.unescape(page)

    unconfirmed = client.post(
        f"/admin/pay-links/{link.id}/revoke",
        data={"csrf_token": token, "invoice_id": invoice.id},
        follow_redirects=True,
    )
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    assert db.session.get(PayLink, link.id).status == "active"
    revoked = client.post(
        f"/admin/pay-links/{link.id}/revoke",
        data={"csrf_token": token, "invoice_id": invoice.id, "confirm": "1"},
    )
    assert revoked.status_code == 303
    assert client.get(f"/p/{url_token}").status_code == 410
    after = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert "Revoked" in after and "Embed in a shop or a mail" not in after
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"paylink.created", "paylink.revoked"} <= actions


@pytest.mark.parametrize("days", ["0", "366", "ten", "-5"])
def test_pay_link_days_must_be_1_to_365(app, client, days):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    response = client.post(
        f"/admin/invoices/{invoice.id}/pay-links",
        data={"csrf_token": token, "days": days},
        follow_redirects=True,
    )
    assert "from 1 to 365" in response.get_data(as_text=True)
    assert count(PayLink) == 0


def test_no_pay_link_for_a_paid_invoice(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, status="paid", open_cents=0)
    clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    response = client.post(
        f"/admin/invoices/{invoice.id}/pay-links",
        data={"csrf_token": token, "days": "60"},
        follow_redirects=True,
    )
    assert "Only an invoice with an open amount" in response.get_data(as_text=True)
    assert count(PayLink) == 0


def test_a_link_for_several_invoices_says_which_others_it_covers(app, client):
    debtor = create_debtor()
    first = create_invoice(debtor, number="M-1")
    second = create_invoice(debtor, number="M-2")
    paylinks.create(db.session(), debtor, [first, second], actor="system")
    db.session.commit()
    clerk(client)
    page = client.get(f"/admin/invoices/{first.id}").get_data(as_text=True)
    assert "Also for: M-2" in page


def test_invoice_page_lists_its_payments(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    clerk(client)
    page = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert f"/admin/payments/{payment.id}" in page and "Open" in page


# ----------------------------------------------------------------- second chance
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
    assert mail is not None and mail.recipient == debtor.primary_email
    assert db.session.scalars(select(PayLink.purpose)).one() == "second_chance"


def test_second_chance_for_a_paid_invoice_sends_nothing(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, status="paid", open_cents=0)
    clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    response = client.post(
        f"/admin/invoices/{invoice.id}/second-chance",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Nothing sent" in response.get_data(as_text=True)
    assert count(OutboxMessage, OutboxMessage.kind == "second_chance") == 0
    assert count(PayLink) == 0


# ------------------------------------------------------------------ protection
def test_posts_without_the_csrf_token_are_refused(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    provider_says(payment, Status.PAID)
    clerk(client)
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    client.post(f"/admin/invoices/{invoice.id}/pay-links", data={"csrf_token": token})
    link = db.session.scalars(select(PayLink)).one()

    assert client.post(f"/admin/payments/{payment.id}/recheck").status_code == 400
    assert (
        client.post(f"/admin/invoices/{invoice.id}/pay-links", data={"days": "9"}).status_code
        == 400
    )
    revoke = client.post(f"/admin/pay-links/{link.id}/revoke", data={"confirm": "1"})
    assert revoke.status_code == 400
    assert client.post(f"/admin/invoices/{invoice.id}/second-chance").status_code == 400
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == "open"
    assert db.session.get(PayLink, link.id).status == "active"
    assert count(PayLink) == 1
    assert count(OutboxMessage, OutboxMessage.kind == "second_chance") == 0


def test_strangers_are_sent_to_the_admin_login(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    for path in ("/admin/payments", f"/admin/payments/{payment.id}"):
        response = client.get(path)
        assert response.status_code in (302, 303)
        assert response.headers["Location"].startswith("/admin/login")


def test_a_debtor_session_does_not_open_admin_payment_pages(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor)
    payment = started(app, debtor, [invoice])
    provider_says(payment, Status.PAID)
    login_as(client, debtor)
    for path in ("/admin/payments", f"/admin/payments/{payment.id}", "/admin/payments.csv"):
        response = client.get(path)
        assert response.status_code in (302, 303)
        assert response.headers["Location"].startswith("/admin/login")
    token = page_csrf(client, "/overview")  # the debtor's own, valid token
    recheck = client.post(f"/admin/payments/{payment.id}/recheck", data={"csrf_token": token})
    assert recheck.status_code in (302, 303)
    assert client.post(
        f"/admin/invoices/{invoice.id}/second-chance", data={"csrf_token": token}
    ).status_code in (302, 303)
    assert db.session.get(Payment, payment.id).status == "open"
    assert count(OutboxMessage, OutboxMessage.kind == "second_chance") == 0


# ----------------------------------------------------------------------- export
def test_export_for_booking(app, client):
    debtor = create_debtor(name='=HYPERLINK("x")')
    payment = started(app, debtor, [create_invoice(debtor, number="E-1", total_cents=1250)])
    paid_by_webhook(client, payment)
    clerk(client)
    booked = client.get("/admin/payments.csv?status=paid").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(booked), delimiter=";"))) == 1  # a sandbox payment
    # is a test payment: never booked unless asked for
    response = client.get("/admin/payments.csv?status=paid&mode=test")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True)), delimiter=";"))
    header, row = rows[0], rows[1]
    record = dict(zip(header, row, strict=True))
    assert record["received"] == "12.50" and record["invoices"] == "E-1=12.50"
    assert record["debtor_name"].startswith("'=")  # no formula in a spreadsheet


def test_a_queued_delivery_shows_before_the_worker_applies_it(app, client):
    from portal import runtime
    from portal.domain.payments import webhooks
    from portal.domain.payments.providers.base import WebhookRequest

    debtor = create_debtor()
    payment = started(app, debtor, [create_invoice(debtor)])
    with app.test_request_context():
        webhooks.accept(
            db.session(),
            runtime.provider("sandbox"),
            WebhookRequest(b"", {}, {"id": payment.provider_ref}),
            "192.0.2.7",
        )
        db.session.commit()
    create_admin("clerk2@example.com", role="clerk")
    admin_login(client, "clerk2@example.com")
    page = client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert "192.0.2.7" in page
