"""Bulk work on the invoice and debtor lists: ticked rows or all the filter matches (with
the count confirmed), pause, resume, second chance, export through the formula guard,
saved filters per admin; audited; clerks may export but not change."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.db import db
from portal.models import AuditEvent, Debtor, Invoice, OutboxMessage
from tests.admin.test_admin import admin_login, page_csrf
from tests.factories import create_admin, create_brand, create_debtor, create_invoice

OLD = dt.date(2026, 10, 20)


def world():
    zon, klok = create_brand(name="Zon"), create_brand(name="Klok")
    a = create_debtor(zon, name="Anna", number="A-1")
    b = create_debtor(klok, name="Bert", number="B-1")
    invoices = {
        "Z1": create_invoice(a, number="Z1", due_date=OLD),
        "Z2": create_invoice(a, number="Z2", due_date=OLD),
        "K1": create_invoice(b, number="K1", due_date=OLD),
    }
    db.session.commit()
    return zon, klok, {number: (i.id, i.debtor_id) for number, i in invoices.items()}


def held(number):
    return db.session.scalar(select(Invoice.hold_reason).where(Invoice.number == number))


def post_bulk(client, list_name, **form):
    data = {"csrf_token": page_csrf(client, f"/admin/{list_name}")}
    data.update(form)
    return client.post(f"/admin/{list_name}/bulk", data=data)


def confirm(client, list_name, first):
    """Post the confirmation form the first answer shows, as the admin's click does."""
    page = first.get_data(as_text=True)
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    return client.post(f"/admin/{list_name}/bulk", data=MultiDict(fields))


def test_all_matching_the_filter_acts_on_exactly_the_filtered_set(client):
    zon, _klok, _ = world()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    query = f"brand={zon.id}&status=all"
    first = post_bulk(client, "invoices", action="pause", scope="filter", query=query)
    page = first.get_data(as_text=True)
    assert first.status_code == 200 and "This acts on 2 invoices" in page
    assert held("Z1") == ""  # nothing changes before the confirmation
    done = confirm(client, "invoices", first)
    assert done.status_code == 303 and f"brand={zon.id}" in done.headers["Location"]
    assert (held("Z1"), held("Z2"), held("K1")) == ("paused", "paused", "")
    bulk = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "admin.bulk")).one()
    assert bulk.details["work"] == "pause" and bulk.details["scope"] == "filter"
    assert bulk.details["changed"] == 2
    per_invoice = db.session.scalar(
        select(func.count()).where(AuditEvent.action == "dunning.paused")
    )
    assert per_invoice == 2


def test_a_filter_that_changed_since_the_count_asks_again(client):
    zon, _klok, invoices = world()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    first = post_bulk(client, "invoices", action="pause", scope="filter", query=f"brand={zon.id}")
    create_invoice(db.session.get(Debtor, invoices["Z1"][1]), number="Z3", due_date=OLD)
    db.session.commit()
    again = confirm(client, "invoices", first)
    page = again.get_data(as_text=True)
    assert again.status_code == 200 and "The list changed" in page
    assert "This acts on 3 invoices" in page and held("Z3") == ""


def test_ticked_rows_resume_and_others_stay(client):
    _zon, _klok, invoices = world()
    for invoice_id, _debtor in invoices.values():
        db.session.get(Invoice, invoice_id).hold_reason = "paused"
    db.session.commit()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    first = post_bulk(
        client, "invoices", action="resume", scope="selection", id=[invoices["K1"][0]]
    )
    assert "This acts on 1 invoice" in first.get_data(as_text=True)
    confirm(client, "invoices", first)
    assert (held("Z1"), held("Z2"), held("K1")) == ("paused", "paused", "")


def test_bulk_work_leaves_the_holds_of_disputes_and_plans_alone(client):
    _zon, _klok, invoices = world()
    db.session.get(Invoice, invoices["Z1"][0]).hold_reason = "dispute"
    db.session.get(Invoice, invoices["Z2"][0]).hold_reason = "plan"
    db.session.commit()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    for action in ("pause", "resume"):
        first = post_bulk(client, "invoices", action=action, scope="filter", query="status=all")
        confirm(client, "invoices", first)
    assert (held("Z1"), held("Z2")) == ("dispute", "plan")


def test_a_second_chance_from_the_debtor_list_mails_each_debtor_once(client):
    _zon, _klok, invoices = world()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    debtor_id = invoices["Z1"][1]
    first = post_bulk(client, "debtors", action="second_chance", scope="selection", id=[debtor_id])
    assert "This acts on 2 invoices" in first.get_data(as_text=True)
    confirm(client, "debtors", first)
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "second_chance"))
    assert [m.debtor_id for m in mails] == [debtor_id]


def test_a_clerk_may_export_but_not_change(client):
    zon, _klok, invoices = world()
    db.session.get(Invoice, invoices["Z1"][0]).number = "=HYPERLINK(1)"
    db.session.commit()
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    page = client.get("/admin/invoices?status=all").get_data(as_text=True)
    assert 'value="pause"' not in page and 'value="xlsx"' in page
    refused = post_bulk(client, "invoices", action="pause", scope="filter", query="status=all")
    assert refused.status_code == 403 and held("K1") == ""
    refused = post_bulk(
        client,
        "invoices",
        action="pause",
        scope="filter",
        query="status=all",
        confirm="1",
        expected="3",
    )
    assert refused.status_code == 403 and held("K1") == ""

    sheet = post_bulk(
        client, "invoices", action="xlsx", scope="filter", query=f"brand={zon.id}&status=all"
    )
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert sorted(str(r[0]) for r in rows[1:]) == ["=HYPERLINK(1)", "Z2"]
    cell = next(
        c
        for r in load_workbook(io.BytesIO(sheet.data)).active.iter_rows()
        for c in r
        if c.value == "=HYPERLINK(1)"
    )
    assert cell.data_type == "s" and cell.quotePrefix  # text, not a formula
    text = post_bulk(
        client, "invoices", action="csv", scope="filter", query=f"brand={zon.id}&status=all"
    )
    numbers = [r[0] for r in csv.reader(io.StringIO(text.get_data(as_text=True)), delimiter=";")]
    assert "'=HYPERLINK(1)" in numbers and "K1" not in numbers
    exported = db.session.scalar(select(func.count()).where(AuditEvent.action == "admin.exported"))
    assert exported == 2


def test_saved_filters_belong_to_their_admin(client, app):
    zon, _klok, _ = world()
    create_admin("boss@example.com")
    create_admin("other@example.com")
    admin_login(client, "boss@example.com")
    saved = client.post(
        "/admin/invoices/filters",
        data={
            "csrf_token": page_csrf(client, "/admin/invoices"),
            "name": "Zon, overdue",
            "query": f"brand={zon.id}&status=overdue&page=3&evil=1",
        },
    )
    assert saved.status_code == 303
    page = client.get("/admin/invoices").get_data(as_text=True)
    assert f'href="/admin/invoices?brand={zon.id}&amp;status=overdue">Zon, overdue</a>' in page
    other = app.test_client()
    admin_login(other, "other@example.com")
    assert "Zon, overdue" not in other.get("/admin/invoices").get_data(as_text=True)
    filter_id = int(re.search(r"/admin/filters/(\d+)/delete", page).group(1))
    stolen = other.post(
        f"/admin/filters/{filter_id}/delete",
        data={"csrf_token": page_csrf(other, "/admin/invoices"), "list": "invoices"},
    )
    assert stolen.status_code == 404
