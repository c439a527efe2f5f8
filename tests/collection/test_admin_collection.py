"""The admin pages of collection: agencies, rules, the queue, a hand-over and a recall."""

from __future__ import annotations

from sqlalchemy import select

from portal.db import db
from portal.domain.collection.models import Agency, CollectionRule, Handover
from portal.models import AuditEvent, InvoiceStatus
from tests.admin.test_admin import admin_login, page_csrf
from tests.collection.helpers import create_agency
from tests.collection.test_handover import queued_debtor
from tests.factories import create_admin


def full_admin(client):
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")


def test_an_admin_adds_an_agency_and_sees_its_secret_once(app, client):
    full_admin(client)
    token = page_csrf(client, "/admin/agencies")
    answer = client.post(
        "/admin/agencies",
        data={
            "csrf_token": token,
            "name": "Incasso Zuid",
            "email": "zuid@agency.example.com",
            "phone": "+31 40 111 2222",
            "delivery": "email",
            "portal_payments": "1",
            "active": "1",
            "fee_terms": "12% no cure no pay",
        },
    )
    assert answer.status_code == 200
    agency = db.session.scalar(select(Agency).where(Agency.name == "Incasso Zuid"))
    assert agency.secret in answer.get_data(as_text=True)
    assert agency.secret not in client.get(f"/admin/agencies/{agency.id}").get_data(as_text=True)

    refused = client.post(
        "/admin/agencies",
        data={
            "csrf_token": token,
            "name": "Push BV",
            "delivery": "push",
            "endpoint_url": "https://127.0.0.1/hook",
            "active": "1",
        },
    )
    assert refused.status_code == 422
    assert "cannot receive dossiers" in refused.get_data(as_text=True)


def test_rules_queue_hand_over_and_recall_through_admin(app, client):
    debtor, invoices = queued_debtor(name="Jansen Bouw")
    agency = create_agency(name="Incasso West")
    full_admin(client)
    token = page_csrf(client, "/admin/collection/rules")
    saved = client.post(
        "/admin/collection/rules",
        data={
            "csrf_token": token,
            "segment_id": debtor.segment_id,
            "mode": "auto",
            "after_days": "21",
            "agency_id": agency.id,
        },
    )
    assert saved.status_code == 303
    rule = db.session.scalar(
        select(CollectionRule).where(CollectionRule.segment_id == debtor.segment_id)
    )
    assert (rule.mode, rule.after_days, rule.agency_id) == ("auto", 21, agency.id)

    page = client.get("/admin/collection").get_data(as_text=True)
    assert "Jansen Bouw" in page and "Automatically on" in page

    answer = client.post(
        f"/admin/collection/debtors/{debtor.id}/hand-over",
        data={"csrf_token": token, "agency_id": agency.id, "invoice": [invoices[0].id]},
    )
    assert answer.status_code == 303
    made = db.session.scalar(select(Handover).where(Handover.debtor_id == debtor.id))
    assert [p.invoice_id for p in made.invoices] == [invoices[0].id]
    detail = client.get(f"/admin/handovers/{made.id}").get_data(as_text=True)
    assert "/collection/dossier/" in detail
    dossier = client.get(f"/admin/handovers/{made.id}/dossier")
    assert dossier.mimetype == "application/zip"

    refused = client.post(
        f"/admin/handovers/{made.id}/recall", data={"csrf_token": token, "reason": " "}
    )
    assert refused.status_code == 303
    assert db.session.get(Handover, made.id).state == "active"
    client.post(
        f"/admin/handovers/{made.id}/recall", data={"csrf_token": token, "reason": "Wrong customer"}
    )
    db.session.expire_all()
    assert db.session.get(Handover, made.id).state == "recalled"
    assert db.session.get(type(invoices[0]), invoices[0].id).status == InvoiceStatus.OPEN.value
    assert (
        db.session.scalar(
            select(AuditEvent.details).where(AuditEvent.action == "collection.recalled")
        )["reason"]
        == "Wrong customer"
    )
