"""Writing off by hand: a reason, the audit trail, the open totals go down, and insight
shows what was written off."""

from __future__ import annotations

from sqlalchemy import select

from portal.db import db
from portal.domain import invoices as invoice_domain
from portal.domain.collection import writeoff
from portal.domain.collection.models import WriteOff
from portal.domain.insight import settle
from portal.models import AuditEvent, Invoice, InvoiceSettlement, InvoiceStatus
from tests.admin.test_admin import admin_login, page_csrf
from tests.collection.helpers import DAY
from tests.factories import create_admin, create_debtor, create_invoice


def test_a_write_off_by_hand_needs_a_reason_and_leaves_the_open_totals(app, client):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=20_000)
    other = create_invoice(debtor, total_cents=5_000)
    before = invoice_domain.overview(db.session(), debtor.id, DAY).totals[0].open_cents
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    client.post(
        f"/admin/invoices/{invoice.id}/write-off",
        data={"csrf_token": token, "amount": "80,00", "reason": " "},
    )
    assert db.session.scalars(select(WriteOff)).all() == []
    too_much = client.post(
        f"/admin/invoices/{invoice.id}/write-off",
        data={"csrf_token": token, "amount": "300,00", "reason": "Bankrupt"},
        follow_redirects=True,
    )
    assert "at most what is open" in too_much.get_data(as_text=True)

    answer = client.post(
        f"/admin/invoices/{invoice.id}/write-off",
        data={
            "csrf_token": token,
            "amount": "200,00",
            "reason": "Bankrupt, no assets (curator letter 3 Dec)",
        },
    )
    assert answer.status_code == 303
    invoice = db.session.get(Invoice, invoice.id)
    assert invoice.open_cents == 0 and invoice.status == InvoiceStatus.PAID.value
    (row,) = db.session.scalars(select(WriteOff)).all()
    assert row.reason == "Bankrupt, no assets (curator letter 3 Dec)" and row.by.startswith(
        "admin:"
    )
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == writeoff.ACTION))
    assert event.invoice_id == invoice.id and event.details["amount_cents"] == 20_000
    after = invoice_domain.overview(db.session(), debtor.id, DAY).totals[0].open_cents
    assert before - after == 20_000 and after == other.open_cents

    page = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert "Bankrupt, no assets" in page

    settle.record(db.session(), "Europe/Amsterdam")
    settled = db.session.get(InvoiceSettlement, invoice.id)
    assert settled.how == "credit"  # not counted as paid in the payer rating or DSO
    today = row.written_on
    assert writeoff.written_off_between(db.session(), today, today) == {"EUR": 20_000}
