"""No formula from user data reaches a spreadsheet the product writes (OWASP CSV injection):
the debtor's statement.xlsx, the import problems workbook and the payments CSV."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from portal.db import db
from portal.domain import sheets
from tests.admin.test_admin import admin_login
from tests.admin.test_admin_imports import upload
from tests.admin.test_admin_payments import clerk, paid_by_webhook
from tests.conftest import login_as
from tests.factories import create_admin, create_brand, create_debtor, create_invoice
from tests.imports.test_import import HEADER, csv_bytes
from tests.payments.helpers import started

HOSTILE = [
    '=HYPERLINK("https://evil.example","Pay here")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_texts_are_recognised(text):
    assert sheets.formula_like(text)
    assert sheets.csv_value(text) == "'" + text


@pytest.mark.parametrize("value", ["INV-1", "Jansen B.V.", "", "12.50", 12.5, -12.5, -3, None])
def test_ordinary_texts_and_numbers_are_left_alone(value):
    assert sheets.csv_value(value) == value


def test_the_statement_writes_hostile_invoice_texts_as_text_and_amounts_as_numbers(client):
    debtor = create_debtor(name='=HYPERLINK("https://evil.example")')
    create_invoice(debtor, number="=1+2", reference="@SUM(1+1)", total_cents=12_100)
    create_invoice(
        debtor,
        number="-2+3",
        reference="\t=1+1",
        kind="credit_note",
        total_cents=-5_000,
        open_cents=-5_000,
    )
    login_as(client, debtor)
    sheet = load_workbook(io.BytesIO(client.get("/statement.xlsx").data)).active
    assert sheet["B1"].value == '=HYPERLINK("https://evil.example")'
    assert sheet["B1"].data_type == "s"
    cells = {c.value: c for row in sheet.iter_rows(min_row=5) for c in row}
    for text in ("=1+2", "@SUM(1+1)", "-2+3", "\t=1+1"):
        assert cells[text].data_type == "s" and cells[text].quotePrefix, text
    amounts = [r[6] for r in sheet.iter_rows(min_row=5, values_only=True)]
    assert sorted(amounts) == [-50.0, 121.0]  # a credit note's negative amount is a number


def test_the_import_problems_workbook_writes_cell_values_as_text(client):
    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    row = ["F-1", "D1", "A", "a@example.com", '=HYPERLINK("https://evil.example")']
    bad = csv_bytes([HEADER, [*row, "", "10", "", "EUR", ""]])
    preview_url = upload(client, brand, bad, "bad.csv").headers["Location"]
    path, query = preview_url.split("?")
    report = load_workbook(io.BytesIO(client.get(f"{path}/errors.xlsx?{query}").data)).active
    values = {c.value: c for row in report.iter_rows(min_row=2) for c in row}
    cell = values['=HYPERLINK("https://evil.example")']
    assert cell.data_type == "s" and cell.quotePrefix


def test_the_payments_export_guards_texts_and_keeps_amounts_numbers(app, client):
    debtor = create_debtor(name="\t=1+1")
    debtor.number = "@SUM(1)"
    db.session.commit()
    payment = started(app, debtor, [create_invoice(debtor, number="-1", total_cents=1250)])
    paid_by_webhook(client, payment)
    clerk(client)
    raw = client.get("/admin/payments.csv?status=paid&mode=test").get_data(as_text=True)
    header, row = list(csv.reader(io.StringIO(raw), delimiter=";"))
    record = dict(zip(header, row, strict=True))
    assert record["debtor_name"] == "'\t=1+1"
    assert record["debtor_number"] == "'@SUM(1)"
    assert record["invoices"] == "'-1=12.50"
    assert record["received"] == "12.50"
    assert ";12.50;" in raw  # a number is written bare, not quoted as text
    assert '"\'\t=1+1"' in raw  # text is quoted: a separator inside cannot start a cell


def test_a_workbook_row_keeps_numbers_and_dates():
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(sheets.xlsx_row(ws, ["=1", -12.5, 3, None, "ok"]))
    buffer = io.BytesIO()
    wb.save(buffer)
    (row,) = load_workbook(buffer).active.iter_rows()
    assert [c.value for c in row] == ["=1", -12.5, 3, None, "ok"]
    assert [c.data_type for c in row] == ["s", "n", "n", "n", "s"]


def test_the_insight_downloads_write_names_as_text_never_as_formulas():
    from portal.domain.insight import xlsx as insight_xlsx

    data = insight_xlsx.workbook(
        [("Debtors", ["Name", "Overdue"], [['=HYPERLINK("https://evil.example","Pay")', -12.5]])]
    )
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    name, amount = sheet.cell(row=2, column=1), sheet.cell(row=2, column=2)
    assert name.data_type == "s" and name.value.startswith("=HYPERLINK")
    assert amount.value == -12.5  # numbers stay numbers
