import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from portal.db import db
from portal.models import Invoice, PayLink
from tests.conftest import csrf_from, login_as
from tests.factories import business_today, create_debtor, create_invoice

TODAY = business_today()


@pytest.fixture
def debtor():
    return create_debtor(name="Anna Visser", language="en")


def test_overview_totals_and_overdue(client, debtor):
    create_invoice(
        debtor,
        total_cents=10000,
        due_date=TODAY - dt.timedelta(days=5),
        invoice_date=TODAY - dt.timedelta(days=19),
    )
    create_invoice(
        debtor, total_cents=2550, due_date=TODAY + dt.timedelta(days=9), invoice_date=TODAY
    )
    create_invoice(debtor, total_cents=999, open_cents=0, status="paid")
    login_as(client, debtor)
    html = client.get("/overview").get_data(as_text=True)
    assert "€125.50" in html  # total open
    assert "€100.00" in html  # overdue
    assert "is-overdue" in html
    assert "Overdue 5 days" in html
    assert (TODAY + dt.timedelta(days=9)).strftime("%-d %b %Y") in html


def test_overview_empty_state(client, debtor):
    create_invoice(debtor, total_cents=999, open_cents=0, status="paid")
    login_as(client, debtor)
    html = client.get("/overview").get_data(as_text=True)
    assert "No open invoices. Thank you!" in html
    assert "See your paid invoices" in html


def test_list_filters_search_sort_and_pages(client, debtor):
    for i in range(30):
        create_invoice(
            debtor,
            number=f"A-{i:03d}",
            total_cents=1000 + i,
            due_date=dt.date(2026, 12, 1) + dt.timedelta(days=i),
            invoice_date=dt.date(2026, 11, 1),
        )
    create_invoice(debtor, number="PAID-1", total_cents=500, open_cents=0, status="paid")
    login_as(client, debtor)

    first = client.get("/invoices").get_data(as_text=True)
    assert "30 invoices" in first and "Page 1 of 2" in first
    assert "A-000" in first and "A-025" not in first and "PAID-1" not in first

    second = client.get("/invoices?page=2").get_data(as_text=True)
    assert "A-025" in second and "A-000" not in second

    paid = client.get("/invoices?status=paid").get_data(as_text=True)
    assert "PAID-1" in paid and "A-000" not in paid

    search = client.get("/invoices?status=all&q=a-01").get_data(as_text=True)
    assert "10 invoices" in search and "A-019" in search and "A-020" not in search

    by_amount = client.get("/invoices?sort=amount&dir=desc").get_data(as_text=True)
    assert by_amount.index("A-029") < by_amount.index("A-028")

    nothing = client.get("/invoices?q=zzz").get_data(as_text=True)
    assert "No invoice matches" in nothing


def test_list_search_treats_wildcards_literally(client, debtor):
    create_invoice(debtor, number="X-1")
    login_as(client, debtor)
    assert "X-1" not in client.get("/invoices?q=%25").get_data(as_text=True)


def test_htmx_gets_only_the_list_partial(client, debtor):
    create_invoice(debtor, number="H-1")
    login_as(client, debtor)
    full = client.get("/invoices")
    partial = client.get("/invoices", headers={"HX-Request": "true"})
    assert "<html" in full.get_data(as_text=True)
    body = partial.get_data(as_text=True)
    assert "<html" not in body and 'id="invoice-list"' in body and "H-1" in body
    assert "HX-Request" in partial.headers["Vary"]


def test_list_survives_hand_edited_query_strings(client, debtor):
    login_as(client, debtor)
    response = client.get("/invoices?page=abc&sort=drop&status=<script>&dir=sideways")
    assert response.status_code == 200


def test_invoice_detail_shows_amounts_history_and_payments(client, debtor):
    invoice = create_invoice(
        debtor, number="D-7", total_cents=20000, open_cents=5000, reference="PO-42"
    )
    from portal.domain import audit

    audit.record(
        db.session,
        "system",
        "payment.received",
        debtor_id=debtor.id,
        invoice_id=invoice.id,
        amount_cents=15000,
        currency="EUR",
        method="ideal",
    )
    db.session.commit()
    login_as(client, debtor)
    html = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "€200.00" in html and "€150.00" in html and "€50.00" in html
    assert "PO-42" in html
    assert "Payment of €150.00 received" in html
    assert "iDEAL" in html


def test_pdf_copy_is_branded_and_cached(client, debtor, app, caplog):
    debtor.brand.font = "humanist"  # a font stack with quoted names
    db.session.commit()
    invoice = create_invoice(debtor, number="PDF-2026-77", total_cents=123456)
    login_as(client, debtor)
    with caplog.at_level("WARNING", logger="weasyprint"):
        first = client.get(f"/invoices/{invoice.id}/pdf")
    assert not caplog.records, "the PDF stylesheet has errors"
    assert first.status_code == 200
    assert first.mimetype == "application/pdf"
    assert first.data.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(first.data)).pages[0].extract_text()
    assert "PDF-2026-77" in text
    assert "1,234.56" in text
    assert 'filename="invoice-PDF-2026-77.pdf"' in first.headers["Content-Disposition"]
    second = client.get(f"/invoices/{invoice.id}/pdf")
    assert second.data == first.data  # served from the cache, byte for byte (same link)


def test_an_open_invoice_copy_carries_a_pay_link_that_opens_its_pay_page(client, debtor):
    invoice = create_invoice(debtor, number="QR-1", total_cents=4200)
    paid = create_invoice(debtor, number="QR-PAID", total_cents=100, open_cents=0, status="paid")
    login_as(client, debtor)
    text = PdfReader(io.BytesIO(client.get(f"/invoices/{invoice.id}/pdf").data)).pages[0]
    words = text.extract_text()
    assert "scan the code with your phone" in words
    token = re.search(r"/p/(\S+)", words).group(1)  # the address, written out in full
    link = db.session.scalars(select(PayLink)).one()
    assert link.purpose == "copy" and [i.id for i in link.invoices] == [invoice.id]
    page = client.get(f"/p/{token}").get_data(as_text=True)
    assert "€42.00" in page
    paid_copy = PdfReader(io.BytesIO(client.get(f"/invoices/{paid.id}/pdf").data)).pages[0]
    assert "scan the code" not in paid_copy.extract_text()


def test_uploaded_original_pdf_wins(client, debtor):
    original = b"%PDF-1.4\n% the accounting package's own invoice\n%%EOF\n"
    invoice = create_invoice(debtor, original_pdf=original, has_original_pdf=True)
    login_as(client, debtor)
    assert client.get(f"/invoices/{invoice.id}/pdf").data == original


def test_statements_list_only_open_invoices(client, debtor):
    create_invoice(debtor, number="OPEN-1", total_cents=1000)
    create_invoice(debtor, number="OPEN-2", total_cents=2500, open_cents=500)
    create_invoice(debtor, number="PAID-9", total_cents=700, open_cents=0, status="paid")
    login_as(client, debtor)
    pdf = client.get("/statement.pdf")
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "OPEN-1" in text and "OPEN-2" in text and "PAID-9" not in text
    assert "15.00" in text  # total open: 10.00 + 5.00

    xlsx = client.get("/statement.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(sheet.iter_rows(min_row=5, values_only=True))
    assert [r[0] for r in rows] == ["OPEN-1", "OPEN-2"]
    assert rows[1][6] == 5.0 and isinstance(rows[1][2], dt.datetime)


def test_language_switch(client, debtor):
    login_as(client, debtor)
    page = client.get("/overview").get_data(as_text=True)
    assert '<html lang="en"' in page
    response = client.post(
        "/language", data={"lang": "nl", "next": "/overview", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/overview"
    dutch = client.get("/overview").get_data(as_text=True)
    assert '<html lang="nl"' in dutch
    assert "Overzicht" in dutch


def test_language_switch_never_redirects_off_site(client, debtor):
    login_as(client, debtor)
    page = client.get("/overview").get_data(as_text=True)
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.post(
            "/language", data={"lang": "fr", "next": target, "csrf_token": csrf_from(page)}
        )
        assert response.headers["Location"] == "/"


def test_debtor_language_is_the_default(client):
    dutch = create_debtor(language="nl")
    login_as(client, dutch)
    assert '<html lang="nl"' in client.get("/overview").get_data(as_text=True)


def test_security_headers(client, debtor):
    login_as(client, debtor)
    response = client.get("/overview")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in response.headers
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and "<style" not in html


def test_brand_stylesheet_carries_colours_and_refuses_css_injection(client):
    debtor = create_debtor()
    debtor.brand.primary_color = "#123456"
    debtor.brand.accent_color = "0;}a{b:"
    db.session.commit()
    css = client.get(f"/brand/{debtor.brand_id}.css").get_data(as_text=True)
    assert "--brand-primary: #123456" in css
    assert "0;}a{b:" not in css


def test_login_page_when_logged_in_goes_to_overview(client, debtor):
    login_as(client, debtor)
    assert client.get("/login").headers["Location"] == "/overview"


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_paid_invoice_cannot_break_money_rules(app, debtor):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        create_invoice(debtor, total_cents=1000, open_cents=1500)
    db.session.rollback()
    with pytest.raises(IntegrityError):
        create_invoice(debtor, total_cents=-1000, open_cents=-1000)  # negative needs credit_note
    db.session.rollback()
    note = create_invoice(debtor, kind="credit_note", total_cents=-1000, open_cents=-1000)
    assert db.session.get(Invoice, note.id).total_cents == -1000


def test_a_page_past_the_end_shows_the_last_page(client, debtor):
    for i in range(27):
        create_invoice(debtor, number=f"P-{i:03d}")
    login_as(client, debtor)
    html = client.get("/invoices?page=9").get_data(as_text=True)
    assert "Page 2 of 2" in html and "P-026" in html
    empty = create_debtor()
    login_as(client, empty)
    assert "No open invoices" in client.get("/invoices?page=3").get_data(as_text=True)


def test_language_switch_keeps_the_filters_htmx_put_in_the_address(client, debtor):
    login_as(client, debtor)
    page = client.get("/invoices").get_data(as_text=True)  # "next" is rendered as /invoices?
    response = client.post(
        "/language",
        data={"lang": "nl", "next": "/invoices?", "csrf_token": csrf_from(page)},
        headers={"Referer": "http://portal.test/invoices?status=paid&sort=amount"},
    )
    assert response.headers["Location"] == "/invoices?status=paid&sort=amount"
    elsewhere = client.post(
        "/language",
        data={"lang": "en", "next": "/overview", "csrf_token": csrf_from(page)},
        headers={"Referer": "https://evil.example/invoices"},
    )
    assert elsewhere.headers["Location"] == "/overview"


def test_search_finds_references_and_descriptions(client, debtor):
    create_invoice(debtor, number="R-1", reference="PO-7781", description="Zonnepanelen dak")
    create_invoice(debtor, number="R-2", reference="PO-1000", description="Omvormer")
    login_as(client, debtor)
    by_reference = client.get("/invoices?q=po-77").get_data(as_text=True)
    assert "R-1" in by_reference and "R-2" not in by_reference
    by_description = client.get("/invoices?q=omvorm").get_data(as_text=True)
    assert "R-2" in by_description and "R-1" not in by_description


def test_the_sorted_column_carries_the_marker(client, debtor):
    create_invoice(debtor, number="S-1", total_cents=5000, open_cents=1000)
    create_invoice(debtor, number="S-2", total_cents=3000, open_cents=3000)
    login_as(client, debtor)
    by_amount = client.get("/invoices?sort=amount&dir=desc").get_data(as_text=True)
    assert by_amount.index("S-1") < by_amount.index("S-2")  # by the invoice amount
    th = by_amount[by_amount.index('aria-sort="descending"') :]
    assert th.index("Amount") < th.index("</th>")
    by_open = client.get("/invoices?sort=open&dir=desc").get_data(as_text=True)
    assert by_open.index("S-2") < by_open.index("S-1")  # by what is still open
    th = by_open[by_open.index('aria-sort="descending"') :]
    assert th.index("Open") < th.index("</th>")


def test_the_overview_separates_plan_dispute_and_promise_from_overdue(client, debtor):
    late = TODAY - dt.timedelta(days=20)
    create_invoice(debtor, number="O-1", total_cents=10000, due_date=late)
    create_invoice(debtor, number="D-1", total_cents=20000, due_date=late, hold_reason="dispute")
    create_invoice(
        debtor,
        number="P-1",
        total_cents=40000,
        due_date=late,
        hold_reason="promise",
        hold_until=TODAY + dt.timedelta(days=5),
    )
    login_as(client, debtor)
    html = client.get("/overview").get_data(as_text=True)
    overdue = html[html.index("<h2>Overdue</h2>") :][:400]
    assert "€100.00" in overdue and "1 invoice past its due date" in overdue
    assert "<h2>Disputed</h2>" in html and "€200.00" in html
    promised = html[html.index("<h2>Promised</h2>") :][:400]
    date = (TODAY + dt.timedelta(days=5)).strftime("%-d %b %Y")
    assert "€400.00" in promised and f"promised to pay by {date}" in promised
    assert "Reminders wait until we have answered your dispute." in html  # D-1's row
    assert f"You promised to pay by {date}; no reminders until then." in html  # P-1's row


def test_the_paid_filter_shows_no_tick_hint(client, debtor):
    create_invoice(debtor, number="OPEN-1")
    create_invoice(debtor, number="PAID-1", open_cents=0, status="paid")
    login_as(client, debtor)
    assert "Tick the invoices" in client.get("/invoices").get_data(as_text=True)
    paid = client.get("/invoices?status=paid").get_data(as_text=True)
    assert "PAID-1" in paid and "Tick the invoices" not in paid and "Select all" not in paid
