"""Handing a claim to an agency: reminders stop, the portal says who handles it (and
whether the debtor may still pay here), a portal payment is reported to the agency, and a
recall with a reason brings the invoices back."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

from sqlalchemy import select

from portal import collecting
from portal.db import db
from portal.domain.collection import handover as handover_domain
from portal.domain.collection import queue
from portal.domain.collection.models import AgencyDelivery, CollectionEntry, EntryState, Handover
from portal.domain.dunning import engine
from portal.domain.payments import service
from portal.domain.payments.providers.base import Status
from portal.models import AuditEvent, InvoiceStatus, OutboxMessage
from tests.collection.helpers import DAY, collection_segment, create_agency, reached_collection
from tests.conftest import login_as
from tests.factories import create_debtor, create_invoice
from tests.payments.helpers import provider_says, sandbox_provider, started


def queued_debtor(**kw):
    segment, step = collection_segment()
    debtor = create_debtor(segment_id=segment.id, **kw)
    invoices = [create_invoice(debtor), create_invoice(debtor, total_cents=5000)]
    for invoice in invoices:
        reached_collection(invoice, step)
    queue.enqueue_from_schedule(db.session(), DAY)
    db.session.commit()
    return debtor, invoices


def hand_over(app, debtor, agency):
    with app.test_request_context():
        handover_id = collecting.hand_over(db.session(), debtor.id, agency.id, None, "admin:1").id
        db.session.commit()
    return db.session.get(Handover, handover_id)


def fresh(rows):
    return [db.session.get(type(r), r.id) for r in rows]


def test_hand_over_stops_reminders_and_mails_the_agency_a_link(app):
    debtor, invoices = queued_debtor()
    agency = create_agency(delivery="email")
    h = hand_over(app, debtor, agency)
    invoices = fresh(invoices)

    assert {i.status for i in invoices} == {InvoiceStatus.HANDED_OVER.value}
    assert h.principal_cents == 12100 + 5000
    assert all(
        db.session.scalar(select(CollectionEntry.state).where(CollectionEntry.invoice_id == i.id))
        == EntryState.HANDED_OVER
        for i in invoices
    )
    due = {d.invoice_id for d in engine.due_steps(db.session(), DAY + dt.timedelta(days=300))}
    assert not due & {i.id for i in invoices}
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "agency_dossier"))
    assert mail.recipient == agency.email
    assert "/collection/dossier/" in mail.body_text
    assert h.dossier_sha256 in mail.body_text
    with zipfile.ZipFile(io.BytesIO(h.dossier)) as archive:
        document = json.loads(archive.read("dossier.json"))
    assert document["handover"]["total_cents"] == 17100


def test_the_signed_link_downloads_until_recalled(app, client):
    debtor, _invoices = queued_debtor()
    agency = create_agency()
    h = hand_over(app, debtor, agency)
    with app.test_request_context():
        url = collecting.dossier_url(h)
    path = url.split("portal.test", 1)[1]
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.mimetype == "application/zip"
    assert answer.data == db.session.get(Handover, h.id).dossier
    assert client.get(path[:-3] + "abc").status_code == 404

    handover_domain.recall(
        db.session(), db.session.get(Handover, h.id), "Paid us directly", "admin:1"
    )
    db.session.commit()
    assert client.get(path).status_code == 404


def test_the_portal_names_the_agency_and_may_forbid_paying_here(app, client):
    debtor, invoices = queued_debtor()
    agency = create_agency(name="Incasso Noord", phone="+31 50 555 0101", portal_payments=False)
    hand_over(app, debtor, agency)
    invoices = fresh(invoices)
    login_as(client, debtor)
    page = client.get("/invoices").get_data(as_text=True)
    assert "Incasso Noord" in page
    assert "+31 50 555 0101" in page
    assert "Pay the agency" in page or "pay them" in page
    assert not db.session.get(type(invoices[0]), invoices[0].id).payable


def test_a_portal_payment_after_hand_over_is_reported_to_the_agency(app):
    debtor, invoices = queued_debtor()
    agency = create_agency(delivery="push", endpoint_url="https://agency.example.com/hook")
    h = hand_over(app, debtor, agency)
    invoices = fresh(invoices)
    assert invoices[0].payable  # this agency lets the debtor pay in the portal
    payment = started(app, debtor, [invoices[0]])
    provider_says(payment, Status.PAID)
    service.sync(db.session(), sandbox_provider(app), payment.id, None)
    db.session.commit()
    reports = db.session.scalars(
        select(AgencyDelivery).where(
            AgencyDelivery.handover_id == h.id, AgencyDelivery.event == "payment"
        )
    ).all()
    assert len(reports) == 1
    body = json.loads(reports[0].payload)
    assert body["data"]["lines"][0]["invoice"] == invoices[0].number
    assert body["data"]["lines"][0]["amount_cents"] == 12100


def test_recall_with_a_reason_brings_the_invoices_back_stopped(app):
    debtor, invoices = queued_debtor()
    agency = create_agency(delivery="push", endpoint_url="https://agency.example.com/hook")
    h = hand_over(app, debtor, agency)
    handover_domain.recall(db.session(), h, "Customer disputes the delivery", "admin:7")
    db.session.commit()
    invoices = fresh(invoices)
    assert h.state == "recalled" and h.end_reason == "Customer disputes the delivery"
    assert {i.status for i in invoices} == {InvoiceStatus.OPEN.value}
    entries = db.session.scalars(select(CollectionEntry)).all()
    assert {e.state for e in entries if e.debtor_id == debtor.id} == {EntryState.STOPPED.value}
    told = db.session.scalar(
        select(AgencyDelivery).where(
            AgencyDelivery.handover_id == h.id, AgencyDelivery.event == "recalled"
        )
    )
    assert json.loads(told.payload)["data"]["reason"] == "Customer disputes the delivery"
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "collection.recalled", AuditEvent.actor == "admin:7"
        )
    )


def test_the_daily_sweep_hands_over_by_the_rule_and_mails_the_agency(app, inbox):
    from portal import tasks
    from tests.collection.helpers import automatic_rule

    segment, step = collection_segment()
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor)
    reached_collection(invoice, step)
    agency = create_agency(delivery="email", email="sweep@agency.example.com")
    automatic_rule(segment, agency, after_days=0)
    with app.test_request_context():
        result = tasks.collection_sweep_now(DAY)
    assert (result.entered, result.handed_over, result.failed) == (1, 1, [])
    made = db.session.scalar(select(Handover).where(Handover.debtor_id == debtor.id))
    assert made.by == "system" and made.agency_id == agency.id
    mail = inbox.wait_for("sweep@agency.example.com")
    assert "/collection/dossier/" in mail.get_content() or "/collection/dossier/" in str(mail)


def test_paying_a_claim_the_agency_keeps_is_refused_by_the_server(app):
    import pytest

    debtor, invoices = queued_debtor()
    agency = create_agency(portal_payments=False)
    hand_over(app, debtor, agency)
    with pytest.raises(service.PaymentRefused):
        service.select_invoices(db.session(), debtor, [invoices[0].id])
    agency = db.session.get(type(agency), agency.id)
    agency.portal_payments = True
    db.session.commit()
    chosen = service.select_invoices(
        db.session(), db.session.get(type(debtor), debtor.id), [invoices[0].id]
    )
    assert [i.id for i in chosen.invoices] == [invoices[0].id]
