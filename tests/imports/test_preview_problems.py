"""The import preview puts problems first and names rows as the spreadsheet numbers them:
a repeat of an invoice number further down is an error even with bad rows between, a
negative amount is named as a credit note, line groups name their real first and last row."""

from __future__ import annotations

from tests.admin.test_admin import admin_login
from tests.admin.test_admin_imports import upload
from tests.factories import create_admin, create_brand
from tests.imports.test_import import HEADER, brand, csv_bytes, rows_ok, run, xlsx

__all__ = ["brand"]  # the fixture


def row(number, date="01-03-2026", amount="10", name="A", due=""):
    return [number, "D1", name, "a@example.com", date, due, amount, "", "EUR", ""]


def test_a_repeat_further_down_is_an_error_even_with_a_bad_row_between(brand):
    rows = [HEADER, row("F-1"), row("F-2", date="31-02-2026"), row("F-1")]
    result = run(csv_bytes(rows), brand)
    found = {(i.line, i.column): i.message for i in result.errors}
    assert "not a date" in found[(3, "Invoice date")]
    assert found[(4, "Invoice number")] == "this invoice number is also on row 2"
    assert [r.invoice_number for r in result.rows] == ["F-1"]  # not taken as a second line


def test_a_negative_amount_is_named_as_a_credit_note(brand):
    rows = [HEADER, row("F-1"), row("C-1", amount="-25,00")]
    result = run(csv_bytes(rows), brand)
    assert result.errors == [] and result.credit_notes == 1
    [warning] = result.warnings
    assert warning.line == 3 and warning.column == "Amount"
    assert warning.message == "a negative amount: this row is imported as a credit note"
    assert result.rows[1].kind == "credit_note"


def test_line_groups_name_their_real_rows_across_a_blank_row(brand):
    rows = [HEADER, row("F-1", amount="5"), ["", "", "", "", "", "", "", "", "", ""]]
    rows += [row("F-1", amount="7"), row("F-2")]
    result = run(csv_bytes(rows), brand)
    assert result.errors == []
    [warning] = result.warnings
    assert warning.message == ("rows 2 to 4 are lines of one invoice; their amounts were added up")
    assert [(r.invoice_number, r.total_cents) for r in result.rows] == [
        ("F-1", 1200),
        ("F-2", 1000),
    ]


def test_the_preview_page_shows_problems_then_rows_then_columns(client):
    brand = create_brand(name="Zonnestroom")
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    rows = [*rows_ok(), row("F-1001"), row("F-9", date="31-02-2026")]
    page = client.get(upload(client, brand, xlsx(rows)).headers["Location"]).get_data(as_text=True)
    problems = page.index('id="problems-title"')
    sample = page.index('id="sample-title"')
    columns = page.index("<summary>Columns</summary>")
    assert problems < sample < columns
    assert "3 problems · 2 errors must be fixed" in page  # and the credit note's warning
    sample_table = page[sample:columns]
    assert "Credit note" in sample_table and "F-1003" in sample_table
    assert "Credit notes" in page  # the summary counts them


def test_a_clean_file_says_so_at_the_top(client):
    brand = create_brand(name="Zonnestroom")
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    clean = rows_ok()[:3]  # without the credit note and its warning
    page = client.get(upload(client, brand, xlsx(clean)).headers["Location"]).get_data(as_text=True)
    assert page.index("No problems found") < page.index('id="sample-title"')
