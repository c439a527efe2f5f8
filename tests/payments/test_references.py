"""Structured payment references: published test vectors, and one reference per payment
request on the pay page, in the EPC QR code, on letters and invoice copies, recognised
when an import says the invoices were paid."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.db import db
from portal.domain.imports import engine as imports
from portal.domain.payments import references
from portal.models import AuditEvent, Debtor, Invoice, PaymentReference
from tests.conftest import login_as
from tests.factories import create_brand, create_debtor, create_invoice
from tests.imports.test_import import csv_bytes


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("RF18 5390 0754 7034", True),  # ISO 11649's own example
        ("RF18539007547034", True),
        ("rf18 5390 0754 7034", True),
        ("RF18 5390 0754 7035", False),  # one digit off
        ("RF19 5390 0754 7034", False),
        ("RF18", False),
    ],
)
def test_rf_creditor_reference_vectors(text, valid):
    assert references.rf_valid(text) is valid


def test_rf_check_digits_are_computed_as_iso_11649_publishes_them():
    assert references.rf("539007547034") == "RF18539007547034"
    assert references.pretty("RF18539007547034") == "RF18 5390 0754 7034"


@pytest.mark.parametrize(
    ("number", "printed"),
    [
        (1234567890, "+++123/4567/89002+++"),  # the example in the issue: 1234567890 % 97 = 2
        (0, "+++000/0000/00097+++"),  # a remainder of 0 is written 97
        (123456789, "+++012/3456/78939+++"),
        (851927541, "+++085/1927/54115+++"),
    ],
)
def test_belgian_structured_communication_vectors(number, printed):
    assert references.be_structured(number) == printed
    assert references.be_valid(printed)
    assert references.parse(printed) == number


def test_a_belgian_communication_with_a_wrong_check_is_refused():
    assert not references.be_valid("+++123/4567/89003+++")
    assert references.parse("+++123/4567/89003+++") is None


def test_the_pay_page_states_one_reference_per_request_and_puts_it_in_the_epc_qr(client):
    nl = create_debtor(create_brand(country="NL"))
    be = create_debtor(create_brand(country="BE", iban="BE68539007547034"))
    for debtor, pattern in ((nl, r"RF\d{2}( \d{4})+"), (be, r"\+\+\+\d{3}/\d{4}/\d{5}\+\+\+")):
        invoice = create_invoice(debtor)
        login_as(client, debtor)
        first = client.get(f"/pay?invoice={invoice.id}").get_data(as_text=True)
        again = client.get(f"/pay?invoice={invoice.id}").get_data(as_text=True)
        shown = re.search(pattern, first)
        assert shown, first
        assert shown.group(0) in again  # the same request keeps its reference
        assert "QR code for the transfer" in first
        digits = references.parse(shown.group(0))
        row = db.session.get(PaymentReference, digits)
        assert row.invoice_ids == [invoice.id] and row.brand_id == debtor.brand_id


def test_the_invoice_copy_states_the_reference(client):
    debtor = create_debtor(create_brand(country="NL"))
    invoice = create_invoice(debtor)
    login_as(client, debtor)
    pdf = client.get(f"/invoices/{invoice.id}/pdf")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    again = db.session.get(Debtor, debtor.id), db.session.get(Invoice, invoice.id)
    code = references.pretty(references.for_invoices(db.session(), again[0], [again[1]]))
    assert code in text.replace("\n", " ")


HEADER = [
    *["Factuurnummer", "Debiteurnummer", "Naam", "E-mail", "Factuurdatum", "Vervaldatum", "Bedrag"],
    "Openstaand",
    "Betalingskenmerk",
]


def test_an_import_recognises_our_reference_on_a_paid_invoice_and_warns_about_a_typo(app):
    brand = create_brand(country="BE", iban="BE68539007547034")
    debtor = create_debtor(brand, number="D1", emails=["jan@example.com"], country="BE")
    paid = create_invoice(
        debtor,
        number="F-1",
        invoice_date=dt.date(2026, 9, 1),
        due_date=dt.date(2026, 9, 15),
        total_cents=12_100,
    )
    code = references.for_invoices(db.session(), debtor, [paid])
    db.session.commit()
    typo = code[:-5] + ("1" if code[-5] != "1" else "2") + code[-4:]
    rows = [
        HEADER,
        ["F-1", "D1", "Jan", "jan@example.com", "01-09-2026", "15-09-2026", "121,00", "0", code],
        ["F-2", "D1", "Jan", "jan@example.com", "01-09-2026", "15-09-2026", "50,00", "50", typo],
    ]
    preview = imports.preview(db.session(), csv_bytes(rows), brand=brand)
    assert preview.by_reference == 1
    assert [i.message for i in preview.warnings] == [
        "the check digits of this payment reference are wrong"
    ]
    imports.commit(db.session(), preview, brand=brand, by="test")
    db.session.commit()
    assert db.session.get(Invoice, paid.id).open_cents == 0
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "payment.reference_recognised")
    )
    assert event.invoice_id == paid.id
