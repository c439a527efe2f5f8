import datetime as dt
import re

from sqlalchemy import select

from portal.db import db
from portal.models import AuditEvent, Debtor
from tests.admin.test_admin import admin_login, page_csrf
from tests.factories import (
    business_today,
    create_admin,
    create_brand,
    create_debtor,
    create_invoice,
    create_segment,
)


def test_debtor_search_by_name_number_and_email(client):
    brand = create_brand()
    create_debtor(brand, name="Anna Visser", number="D100", emails=["anna@visser.example"])
    create_debtor(brand, name="Bram Smit", number="D200", emails=["bram@example.com"])
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    for q in ("visser", "D100", "anna@visser"):
        html = client.get(f"/admin/debtors?q={q}").get_data(as_text=True)
        assert "Anna Visser" in html and "Bram Smit" not in html, q
    partial = client.get("/admin/debtors?q=bram", headers={"HX-Request": "true"})
    assert "<html" not in partial.get_data(as_text=True) and "Bram Smit" in partial.get_data(
        as_text=True
    )
    assert "No debtor matches" in client.get("/admin/debtors?q=zzz").get_data(as_text=True)


def test_edit_contact_data_is_audited(client):
    segment = create_segment(name="Business")
    debtor = create_debtor(name="Anna Visser", emails=["anna@example.com"])
    boss = create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    page = client.get(f"/admin/debtors/{debtor.id}").get_data(as_text=True)
    form = {
        "csrf_token": page_csrf(client, f"/admin/debtors/{debtor.id}"),
        "name": "Anna de Visser",
        "emails": "anna@example.com, Boekhouding@Example.com",
        "phone": "+31612345678",
        "address_line": "Kerkstraat 2",
        "postcode": "3511 AB",
        "city": "Utrecht",
        "country": "nl",
        "language": "nl",
        "kind": "b2b",
        "segment_id": str(segment.id),
    }
    assert "anna@example.com" in page
    response = client.post(f"/admin/debtors/{debtor.id}", data=form)
    assert response.status_code == 303
    saved = db.session.get(Debtor, debtor.id)
    assert saved.name == "Anna de Visser" and saved.country == "NL" and saved.kind == "b2b"
    assert [e.email for e in saved.emails] == ["anna@example.com", "boekhouding@example.com"]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "admin.debtor_updated")
    ).one()
    assert event.actor == f"admin:{boss.id}" and "emails" in event.details["fields"]
    bad = client.post(f"/admin/debtors/{debtor.id}", data={**form, "emails": "not an address"})
    assert bad.status_code == 422 and "is not an email address" in bad.get_data(as_text=True)


def test_invoice_filters(client):
    brand = create_brand()
    debtor = create_debtor(brand)
    today = business_today()
    create_invoice(
        debtor,
        number="OLD",
        invoice_date=today - dt.timedelta(days=60),
        due_date=today - dt.timedelta(days=40),
    )
    create_invoice(debtor, number="NEW", invoice_date=today, due_date=today + dt.timedelta(days=14))
    create_invoice(debtor, number="DONE", open_cents=0, status="paid")
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")

    def numbers(query):
        html = client.get(f"/admin/invoices?{query}").get_data(as_text=True)
        return set(re.findall(r">(OLD|NEW|DONE)</a>", html))

    assert numbers("") == {"OLD", "NEW"}
    assert numbers("status=overdue") == {"OLD"}
    assert numbers("status=open&days=30") == {"OLD"}
    assert numbers("status=open&days=45") == set()
    assert numbers("status=paid") == {"DONE"}
    assert numbers("status=all&q=ne") == {"NEW", "DONE"}


def test_invoice_detail_and_unknown_ids(client):
    debtor = create_debtor(name="Anna Visser")
    invoice = create_invoice(debtor, number="F-77")
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    html = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert "F-77" in html and "Anna Visser" in html
    assert client.get("/admin/invoices/999999").status_code == 404
    assert client.get("/admin/debtors/999999").status_code == 404


def test_a_phone_typed_by_admin_is_stored_in_e164(client):
    debtor = create_debtor(name="Bart Peeters", emails=["bart@example.be"])
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    url = f"/admin/debtors/{debtor.id}"
    form = {
        "csrf_token": page_csrf(client, url),
        "name": "Bart Peeters",
        "emails": "bart@example.be",
        "phone": "0470 12 34 56",
        "country": "BE",
        "language": "nl",
        "kind": "b2c",
    }
    assert client.post(url, data=form).status_code == 303
    assert db.session.get(Debtor, debtor.id).phone == "+32470123456"
    bad = client.post(url, data={**form, "phone": "0470"})
    assert bad.status_code == 422
    assert "too short for a phone number in BE" in bad.get_data(as_text=True)
    assert db.session.get(Debtor, debtor.id).phone == "+32470123456"
    cleared = client.post(url, data={**form, "phone": " "})
    assert cleared.status_code == 303 and db.session.get(Debtor, debtor.id).phone == ""
