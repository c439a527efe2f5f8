"""Invoice batch import: files made here in every dialect, plus broken and hostile ones."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from portal.db import db
from portal.domain.imports import engine, planning
from portal.domain.imports.readers import ReadError, detect, read_rows
from portal.domain.imports.values import parse_date
from portal.models import AuditEvent, Debtor, ImportBatch, Invoice
from tests.conftest import login_as
from tests.factories import create_brand, create_debtor, create_invoice

HEADER = [
    "Factuurnummer",
    "Debiteurnummer",
    "Naam",
    "E-mail",
    "Factuurdatum",
    "Vervaldatum",
    "Bedrag",
    "Openstaand",
    "Valuta",
    "Omschrijving",
]


def xlsx(rows, preamble=()):
    wb = Workbook()
    ws = wb.active
    for line in preamble:
        ws.append(line)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, delimiter=";", encoding="utf-8"):
    text = "\r\n".join(delimiter.join(str(c) for c in row) for row in rows) + "\r\n"
    return text.encode(encoding)


def rows_ok():
    return [
        HEADER,
        [
            "F-1001",
            "D1",
            "Anna Visser",
            "anna@example.com",
            dt.date(2026, 10, 1),
            dt.date(2026, 10, 15),
            1234.56,
            1234.56,
            "EUR",
            "Zonnepanelen",
        ],
        [
            "F-1002",
            "D1",
            "Anna Visser",
            "anna@example.com",
            "02-10-2026",
            "16-10-2026",
            "99,95",
            "0",
            "EUR",
            "Onderhoud",
        ],
        [
            "F-1003",
            "D2",
            "Bouw B.V.",
            "info@bouw.example",
            46300,
            46330,
            "-50,00",
            "-50,00",
            "EUR",
            "Creditnota",
        ],
    ]


@pytest.fixture
def brand(app):
    return create_brand(slug="zon", name="Zonnestroom")


def run(data, brand, **kw):
    return engine.preview(db.session(), data, brand=brand, filename="batch.xlsx", **kw)


def test_xlsx_with_preamble_and_totals_row_imports(brand, client):
    data = xlsx(
        [*rows_ok(), [None, None, "Totaal", None, None, None, 1284.51, None]],
        preamble=[["Openstaande posten per 24-11-2026"], ["Administratie 1"], []],
    )
    result = run(data, brand)
    assert result.errors == [], result.errors
    assert result.header.row_index == 3
    assert (result.new_debtors, result.new_invoices, result.updated_invoices) == (2, 3, 0)
    done = engine.commit(db.session(), result, brand=brand, by="test")
    db.session.commit()
    invoices = {i.number: i for i in db.session.scalars(select(Invoice))}
    assert invoices["F-1001"].total_cents == 123456
    assert invoices["F-1002"].status == "paid" and invoices["F-1002"].open_cents == 0
    assert invoices["F-1003"].kind == "credit_note" and invoices["F-1003"].total_cents == -5000
    assert invoices["F-1003"].invoice_date == dt.date(1899, 12, 30) + dt.timedelta(days=46300)
    assert sum(len(v) for v in done.new_invoices_by_debtor.values()) == 3
    anna = db.session.scalars(select(Debtor).where(Debtor.number == "D1")).one()
    assert anna.primary_email == "anna@example.com"
    login_as(client, anna)
    assert "F-1001" in client.get("/invoices").get_data(as_text=True)


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [(";", "utf-8"), (";", "utf-8-sig"), (",", "utf-8"), ("\t", "utf-8"), (";", "cp1252")],
)
def test_csv_dialects(brand, delimiter, encoding):
    rows = [
        HEADER,
        [
            "F-9",
            "D9",
            "Émile Dubois",
            "emile@example.com",
            "1-2-26",
            "15-2-26",
            "€ 1.234,50" if delimiter != "," else "1234.50",
            "",
            "EUR",
            "Café",
        ],
    ]
    result = run(csv_bytes(rows, delimiter, encoding), brand)
    assert result.errors == [], result.errors
    row = result.rows[0]
    assert (row.total_cents, row.invoice_date, row.name) == (
        123450,
        dt.date(2026, 2, 1),
        "Émile Dubois",
    )
    assert row.description == "Café"


def test_every_row_error_is_explained(brand):
    rows = [
        HEADER,
        ["F-1", "D1", "A", "a@example.com", "31-02-2026", "", "10", "", "EUR", ""],
        ["F-2", "D1", "A", "a@example.com", "01-03-2026", "01-02-2026", "10", "", "EUR", ""],
        ["F-2", "D1", "A", "a@example.com", "01-03-2026", "", "10", "", "EUR", ""],
        ["F-3", "D1", "A", "a@example.com", "01-03-2026", "", "tien", "", "EUR", ""],
        ["F-4", "D1", "A", "a@example.com", "01-03-2026", "", "10", "", "XYZ", ""],
        ["F-5", "D7", "No Mail", "", "01-03-2026", "", "10", "", "EUR", ""],
        ["F-6", "D1", "A", "a@example.com", "01-03-2026", "", "10", "12", "EUR", ""],
    ]
    result = run(csv_bytes(rows), brand)
    found = {(i.line, i.column): i.message for i in result.errors}
    assert "not a date" in found[(2, "Invoice date")]
    assert "before the invoice date" in found[(3, "Due date")]
    assert "also on row 3" in found[(4, "Invoice number")]
    assert "not an amount" in found[(5, "Amount")]
    assert "currency" in found[(6, "Currency")]
    assert "email" in found[(7, "E-mail")]
    assert "between 0 and the total" in found[(8, "Open amount")]
    assert not result.can_commit
    with pytest.raises(engine.ImportRefused):
        engine.commit(db.session(), result, brand=brand, by="test")


def test_negative_amount_on_a_row_marked_invoice_is_an_error(brand):
    rows = [
        [*HEADER, "Soort"],
        ["F-1", "D1", "A", "a@example.com", "01-03-2026", "", "-10", "", "EUR", "", "factuur"],
    ]
    result = run(csv_bytes(rows), brand)
    assert "negative amount" in result.errors[0].message


def test_a_thousand_errors_are_all_listed(brand):
    rows = [HEADER] + [
        [f"F-{i}", "D1", "A", "a@example.com", "not a date", "", "1", "", "EUR", ""]
        for i in range(1000)
    ]
    assert len(run(csv_bytes(rows), brand).errors) == 1000


def test_an_error_in_the_last_row_commits_nothing(brand):
    rows = [*rows_ok(), ["F-BAD", "D1", "A", "a@example.com", "gisteren", "", "1", "", "EUR", ""]]
    result = run(xlsx(rows), brand)
    assert not result.can_commit
    assert db.session.scalar(select(func.count(Invoice.id))) == 0


def test_reimport_changes_nothing_and_the_same_file_is_recognised(brand):
    data = xlsx(rows_ok())
    engine.commit(db.session(), run(data, brand), brand=brand, by="test")
    db.session.commit()
    again = run(data, brand)
    assert again.already_imported and not again.can_commit
    forced = run(data, brand, force=True)
    assert (forced.new_invoices, forced.updated_invoices, forced.unchanged) == (0, 0, 3)
    engine.commit(db.session(), forced, brand=brand, by="test")
    db.session.commit()
    assert db.session.scalar(select(func.count(Invoice.id))) == 3
    assert db.session.scalar(select(func.count(Debtor.id))) == 2
    assert db.session.scalar(select(func.count(ImportBatch.id))) == 2


def test_changed_amounts_update_the_invoice(brand):
    engine.commit(db.session(), run(xlsx(rows_ok()), brand), brand=brand, by="test")
    db.session.commit()
    rows = rows_ok()
    rows[1][7] = 1000  # paid in part elsewhere
    result = run(xlsx(rows), brand)
    assert (result.updated_invoices, result.unchanged) == (1, 2)
    engine.commit(db.session(), result, brand=brand, by="test")
    db.session.commit()
    invoice = db.session.scalars(select(Invoice).where(Invoice.number == "F-1001")).one()
    assert invoice.open_cents == 100000
    assert (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "invoice.updated")
        )
        == 1
    )


def test_open_items_mode_marks_missing_invoices_paid(brand):
    engine.commit(db.session(), run(xlsx(rows_ok()), brand), brand=brand, by="test")
    db.session.commit()
    rows = rows_ok()[:2]  # F-1002 and F-1003 are no longer open in the accounting package
    result = run(xlsx(rows), brand, mode="open_items")
    assert result.paid_elsewhere == 1  # F-1002 was already paid; the credit note stays
    engine.commit(db.session(), result, brand=brand, by="test")
    db.session.commit()
    statuses = dict(db.session.execute(select(Invoice.number, Invoice.status)).all())
    assert statuses["F-1001"] == "open"


def test_debtors_match_by_number_never_by_name(brand):
    known = create_debtor(brand, number="D1", emails=["old@example.com"], name="Old Name")
    result = run(xlsx(rows_ok()), brand)
    assert result.new_debtors == 1  # D2 only
    engine.commit(db.session(), result, brand=brand, by="test")
    db.session.commit()
    invoice = db.session.scalars(select(Invoice).where(Invoice.number == "F-1001")).one()
    assert invoice.debtor_id == known.id


def test_without_a_number_column_debtors_match_by_unique_email(brand):
    known = create_debtor(brand, emails=["anna@example.com"])
    header = ["Invoice number", "Name", "Email", "Invoice date", "Due date", "Amount"]
    rows = [header, ["INV-1", "Anna", "Anna@Example.com", "2026-10-01", "2026-10-15", "12.50"]]
    result = run(csv_bytes(rows, ","), brand)
    assert result.new_debtors == 0
    engine.commit(db.session(), result, brand=brand, by="test")
    db.session.commit()
    assert db.session.scalars(select(Invoice)).one().debtor_id == known.id


def test_invoice_number_of_another_debtor_is_refused(brand):
    other = create_debtor(brand, number="D5")
    create_invoice(other, number="F-1001")
    result = run(xlsx(rows_ok()), brand)
    assert any("another customer" in i.message for i in result.errors)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"MZ\x90\x00" + b"\x00" * 100, "not a spreadsheet"),
        (b"%PDF-1.7\n...", "not a spreadsheet"),
        (b"PK\x03\x04garbage", "damaged"),
    ],
)
def test_files_that_are_not_spreadsheets_are_refused(brand, data, words):
    result = run(data, brand)
    assert words in result.errors[0].message


def test_a_renamed_executable_is_refused_by_content(brand):
    with pytest.raises(ReadError, match="not a spreadsheet"):
        detect(b"MZ" + b"\x00" * 64)


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_xml_entity_tricks_are_refused():
    evil = _zip(
        {
            "[Content_Types].xml": "<Types/>",
            "xl/workbook.xml": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><workbook/>',
        }
    )
    with pytest.raises(ReadError, match="XML declarations"):
        read_rows(evil)


def test_zip_bombs_are_refused():
    bomb = _zip(
        {"xl/workbook.xml": "<workbook/>", "xl/worksheets/sheet1.xml": "0" * (60 * 1024 * 1024)}
    )
    with pytest.raises(ReadError, match="zip bomb"):
        read_rows(bomb)


def test_size_and_row_limits():
    with pytest.raises(ReadError, match="larger than"):
        read_rows(b"a;b\n" * 100, max_bytes=10)
    with pytest.raises(ReadError, match="more than"):
        read_rows(b"a;b\n" * 100, max_rows=50)


def test_merged_header_cells_still_map(brand):
    wb = Workbook()
    ws = wb.active
    ws.append(["Facturen", None, None, None, None, None, None])
    ws.merge_cells("A1:G1")
    ws.append(
        ["Factuurnummer", "Debiteurnummer", "Naam", "E-mail", "Factuurdatum", "Bedrag", "Valuta"]
    )
    ws.append(["M-1", "D1", "A", "a@example.com", dt.date(2026, 1, 5), 10, "EUR"])
    buffer = io.BytesIO()
    wb.save(buffer)
    result = run(buffer.getvalue(), brand)
    assert result.errors == [] and result.rows[0].invoice_number == "M-1"


def test_no_header_found_asks_for_a_mapping(brand):
    rows = [["a", "b", "c"], ["1", "2", "3"]]
    result = run(csv_bytes(rows), brand)
    assert "choose the columns" in result.errors[0].message and not result.can_commit
    assert result.header.names == ["a", "b", "c"]  # offered for a mapping by hand
    mapped = run(
        csv_bytes(
            [
                ["nr", "wanneer", "hoeveel", "mail", "klant"],
                ["X-1", "01-01-2026", "5,00", "x@example.com", "K1"],
            ]
        ),
        brand,
        mapping={
            "invoice_number": 0,
            "invoice_date": "wanneer",
            "total": 2,
            "email": 3,
            "debtor_number": 4,
        },
    )
    assert mapped.errors == [] and mapped.rows[0].total_cents == 500


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("31-12-2026", dt.date(2026, 12, 31)),
        ("1-2-26", dt.date(2026, 2, 1)),
        ("2026-12-31", dt.date(2026, 12, 31)),
        ("31/12/2026", dt.date(2026, 12, 31)),
        ("Jan 28 2021", dt.date(2021, 1, 28)),
        (45000, dt.date(2023, 3, 15)),
        ("45000", dt.date(2023, 3, 15)),
        (dt.datetime(2026, 5, 1, 13, 0), dt.date(2026, 5, 1)),
        ("2026-05-01 00:00:00", dt.date(2026, 5, 1)),
    ],
)
def test_date_shapes(value, expected):
    assert parse_date(value) == expected


def test_import_cli_previews_then_commits(app, tmp_path):
    create_brand(slug="zon")
    path = tmp_path / "batch.xlsx"
    path.write_bytes(xlsx(rows_ok()))
    runner = app.test_cli_runner()
    preview_only = runner.invoke(args=["import-invoices", str(path), "--brand", "zon"])
    assert preview_only.exit_code == 0 and "new invoices 3" in preview_only.output
    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    committed = runner.invoke(args=["import-invoices", str(path), "--brand", "zon", "--commit"])
    assert committed.exit_code == 0 and "Imported as batch" in committed.output
    assert db.session.scalar(select(func.count(Invoice.id))) == 3
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_bytes([HEADER, ["F-1", "D1", "A", "a@x.example", "nope", "", "1", "", "EUR", ""]])
    )
    failed = runner.invoke(args=["import-invoices", str(bad), "--brand", "zon", "--commit"])
    assert failed.exit_code == 1 and "row 2, Invoice date" in failed.output


FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "invoices"


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures are not beside the repository")
@pytest.mark.parametrize(
    ("name", "fields"),
    [
        # three preamble lines above the header; "$13.50" amounts; ISO dates
        (
            "invoiceninja_invoice.csv",
            {"invoice_number", "email", "total", "invoice_date", "due_date"},
        ),
        ("invoiceninja_zoho_invoices.csv", {"invoice_number", "debtor_number", "total", "open"}),
        ("akaunting_invoices_2018.csv", {"invoice_number", "debtor_number", "total"}),
        # the invoice number sits in "Details": this export needs a mapping by hand
        ("invoiceninja_invoicely_invoices.csv", {"invoice_date", "due_date", "total"}),
    ],
)
def test_real_exports_are_read_and_mapped(brand, name, fields):
    from portal.domain.imports.columns import find_header

    rows = read_rows((FIXTURES / name).read_bytes())
    header = find_header(rows)
    assert header is not None and fields <= header.columns.keys(), header


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures are not beside the repository")
def test_a_real_export_gets_precise_row_errors(brand):
    result = run((FIXTURES / "invoiceninja_invoice.csv").read_bytes(), brand)
    assert result.header.row_index == 3  # under the preamble
    assert result.rows[0].line == 6 and result.rows[0].total_cents == 2667  # "$26.67"
    assert any("before the invoice date" in i.message for i in result.errors)


def test_import_cli_uses_a_saved_profile(app, tmp_path):
    from portal.models import ImportProfile

    brand = create_brand(slug="zon2")
    db.session.add(
        ImportProfile(
            brand_id=brand.id,
            name="crm",
            mapping={
                "invoice_number": "Nr",
                "debtor_number": "Klant",
                "email": "Mail",
                "invoice_date": "Wanneer",
                "total": "Hoeveel",
            },
        )
    )
    db.session.commit()
    path = tmp_path / "crm.csv"
    path.write_bytes(
        csv_bytes(
            [
                ["Hoeveel", "Wanneer", "Mail", "Klant", "Nr"],
                ["20,00", "01-03-2026", "k@example.com", "K1", "X-2"],
            ]
        )
    )
    runner = app.test_cli_runner()
    without = runner.invoke(args=["import-invoices", str(path), "--brand", "zon2"])
    assert without.exit_code == 1
    result = runner.invoke(
        args=["import-invoices", str(path), "--brand", "zon2", "--profile", "crm"]
    )
    assert result.exit_code == 0 and "new invoices 1" in result.output, result.output
    missing = runner.invoke(
        args=["import-invoices", str(path), "--brand", "zon2", "--profile", "x"]
    )
    assert missing.exit_code == 2


def test_original_pdfs_from_a_zip_are_matched_by_file_name(brand, client):
    from portal.domain.imports import pdfs

    archive = _zip(
        {
            "F-1001.pdf": "%PDF-1.4 original of F-1001",
            "facturen/Factuur F-1002.pdf": "%PDF-1.4 original of F-1002",
            "F-9999.pdf": "%PDF-1.4 no such invoice",
            "F-1003.pdf": "MZ not really a pdf",
            "notes.txt": "hello",
        }
    )
    result = run(xlsx(rows_ok()), brand)
    match = pdfs.match_pdfs(archive, (r.invoice_number for r in result.rows))
    assert sorted(match.matched) == ["F-1001", "F-1002"]
    assert match.unmatched == ["F-9999.pdf"]
    assert len(match.refused) == 2
    engine.commit(db.session(), result, brand=brand, by="test")
    assert pdfs.attach(db.session(), brand.id, match.matched) == 2
    db.session.commit()
    invoice = db.session.scalars(select(Invoice).where(Invoice.number == "F-1001")).one()
    from sqlalchemy.orm import selectinload

    anna = db.session.scalars(
        select(Debtor).options(selectinload(Debtor.emails)).where(Debtor.number == "D1")
    ).one()
    login_as(client, anna)
    assert client.get(f"/invoices/{invoice.id}/pdf").data == b"%PDF-1.4 original of F-1001"


def test_a_pdf_archive_that_is_not_a_zip_is_refused():
    from portal.domain.imports import pdfs

    with pytest.raises(ReadError, match="not a ZIP"):
        pdfs.match_pdfs(b"%PDF-1.4", ["F-1"])


def test_an_import_does_not_raise_what_was_just_paid_in_the_portal(app):
    """DESIGN.md section 9: the accounting package may not have booked a portal payment yet."""
    from portal.domain.payments.providers.base import Status
    from tests.payments.helpers import provider_says, started

    brand = create_brand()
    debtor = create_debtor(brand, number="K-1")
    invoice = create_invoice(debtor, number="F-77", total_cents=10000)
    payment = started(app, debtor, [invoice], amount=None)
    provider_says(payment, Status.PAID)
    from portal import runtime
    from portal.domain.payments import service

    with app.test_request_context():
        service.sync(db.session(), runtime.provider("sandbox"), payment.id, None)
        db.session.commit()
    rows = [
        [
            "Factuurnummer",
            "Debiteurnummer",
            "Naam",
            "E-mail",
            "Factuurdatum",
            "Vervaldatum",
            "Bedrag",
            "Openstaand",
        ],
        [
            "F-77",
            "K-1",
            debtor.name,
            debtor.primary_email,
            "01-10-2026",
            "15-10-2026",
            "100,00",
            "100,00",
        ],
    ]
    data = "\n".join(";".join(r) for r in rows).encode()
    result = engine.preview(db.session(), data, brand=brand)
    assert not result.errors
    assert [w.message for w in result.warnings] == [planning.RECENTLY_PAID]
    engine.commit(db.session(), result, brand=brand, by="test")
    db.session.commit()
    assert db.session.get(Invoice, invoice.id).open_cents == 0  # stays at the portal figure
    later = engine.preview(db.session(), data, brand=brand, booking_lag_days=0, force=True)
    assert not later.warnings and later.updated_invoices == 1  # after the lag it may rise


def test_invoice_per_line_exports_become_one_invoice(brand):
    header = ["Invoice Number", "Customer", "Email", "Invoice Date", "Due Date", "Amount"]
    rows = [
        header,
        ["2", "Mark Walberg", "mark@example.com", "2021-01-28", "2021-02-27", "294.00"],
        ["2", "Mark Walberg", "mark@example.com", "2021-01-28", "2021-02-27", "20.00"],
        ["2", "Mark Walberg", "mark@example.com", "2021-01-28", "2021-02-27", "160.00"],
        ["3", "Ann Lee", "ann@example.com", "2021-02-01", "2021-03-03", "50.00"],
        ["3", "Ann Lee", "ann@example.com", "2021-02-01", "2021-03-03", "50.00"],
    ]
    result = run(csv_bytes(rows, ","), brand)
    assert result.errors == []
    assert [(r.invoice_number, r.total_cents) for r in result.rows] == [("2", 47400), ("3", 5000)]
    messages = {w.line: w.message for w in result.warnings}
    assert messages[2] == "rows 2 to 4 are lines of one invoice; their amounts were added up"
    assert "repeats on each line and was taken once" in messages[5]


def test_repeated_number_with_other_details_is_still_an_error(brand):
    header = ["Invoice Number", "Customer", "Email", "Invoice Date", "Amount"]
    rows = [
        header,
        ["7", "Mark", "mark@example.com", "2021-01-28", "10.00"],
        ["7", "Someone Else", "else@example.com", "2021-01-28", "10.00"],
        ["8", "Mark", "mark@example.com", "2021-01-28", "10.00"],
        ["7", "Mark", "mark@example.com", "2021-01-28", "10.00"],
    ]
    result = run(csv_bytes(rows, ","), brand)
    found = {(i.line, i.column): i.message for i in result.errors}
    assert "also on row 2, with another customer" in found[(3, "Invoice number")]
    assert found[(5, "Invoice number")] == "this invoice number is also on row 2"


def test_paid_so_far_column_gives_the_open_amount(brand):
    rows = [
        ["Factuurnummer", "Naam", "E-mail", "Factuurdatum", "Bedrag", "Betaald"],
        ["F-1", "Anna", "anna@example.com", "01-10-2026", "100,00", "40,00"],
    ]
    result = run(csv_bytes(rows), brand)
    assert result.errors == [] and result.rows[0].open_cents == 6000


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures are not beside the repository")
def test_real_invoice_ninja_export_has_no_false_duplicates(brand):
    result = run((FIXTURES / "invoiceninja_invoice.csv").read_bytes(), brand)
    assert not [i for i in result.errors if "also on row" in i.message]
    assert "paid" in result.header.columns  # "Paid" is read: open = amount - paid
    first = result.rows[0]
    assert (first.total_cents, first.open_cents) == (2667, 2667 - 694)


def test_phones_are_stored_in_e164_and_a_bad_one_is_a_warning(brand):
    header = [*HEADER[:4], "Telefoon", "Land", *HEADER[4:]]
    rows = [
        header,
        ["F-1", "D1", "Anna", "anna@example.com", "06 12345678", "NL",
         "01-10-2026", "15-10-2026", "10,00", "10,00", "EUR", "x"],
        ["F-2", "D2", "Bart", "bart@example.com", "0470 12 34 56", "BE",
         "01-10-2026", "15-10-2026", "20,00", "20,00", "EUR", "y"],
        ["F-3", "D3", "Cas", "cas@example.com", "0612", "NL",
         "01-10-2026", "15-10-2026", "30,00", "30,00", "EUR", "z"],
        ["F-4", "D4", "Dirk", "dirk@example.com", "bel me", "",
         "01-10-2026", "15-10-2026", "40,00", "40,00", "EUR", "w"],
    ]  # fmt: skip
    result = run(xlsx(rows), brand)
    assert result.errors == []
    assert [(w.line, w.column, w.value, w.message) for w in result.warnings] == [
        (4, "Phone", "0612", "too short for a phone number in NL; "
         "the debtor is imported without one"),
        (5, "Phone", "bel me", "not a phone number; the debtor is imported without one"),
    ]  # fmt: skip
    assert result.can_commit and result.new_invoices == 4
    engine.commit(db.session(), result, brand=brand, by="test")
    db.session.commit()
    phones = dict(db.session.execute(select(Debtor.number, Debtor.phone)).all())
    assert phones == {"D1": "+31612345678", "D2": "+32470123456", "D3": "", "D4": ""}


def test_a_phone_without_a_country_column_is_read_in_the_brands_country(app):
    belgian = create_brand(slug="be", name="Belgisch", country="BE")
    header = [*HEADER[:4], "Telefoon", *HEADER[4:]]
    row = ["F-9", "D9", "Els", "els@example.com", "0470 12 34 56",
           "01-10-2026", "15-10-2026", "10,00", "10,00", "EUR", "x"]  # fmt: skip
    result = run(xlsx([header, row]), belgian)
    assert result.issues == [] and result.rows[0].phone == "+32470123456"


def test_a_phone_warning_reads_in_dutch_and_french(app, brand):
    from flask_babel import force_locale, gettext

    header = [*HEADER[:4], "Telefoon", *HEADER[4:]]
    row = ["F-9", "D9", "Els", "els@example.com", "0612",
           "01-10-2026", "15-10-2026", "10,00", "10,00", "EUR", "x"]  # fmt: skip
    (warning,) = run(xlsx([header, row]), brand).warnings
    with app.test_request_context(), force_locale("nl"):
        dutch = warning.translated(gettext)
    with app.test_request_context(), force_locale("fr"):
        french = warning.translated(gettext)
    assert dutch == (
        "te kort voor een telefoonnummer in NL; de debiteur is zonder telefoonnummer geïmporteerd"
    )
    assert french.startswith("trop court pour un numéro de téléphone en NL")


def test_contact_details_the_debtor_confirmed_survive_an_import_with_a_warning(brand, client):
    from tests.conftest import csrf

    anna = create_debtor(
        brand, number="D1", emails=["anna@example.com"], address_line="Oude Gracht 1"
    )
    login_as(client, anna)
    response = client.post(
        "/requests/contact",
        data={"csrf_token": csrf(client, "/requests/contact"), "address_line": "Nieuwe Weg 9"},
    )
    assert response.status_code == 303
    header = ["Factuurnummer", "Debiteurnummer", "Naam", "E-mail", "Adres", "Factuurdatum"]
    header.append("Bedrag")
    rows = [
        header,
        *(
            [f"F-20{n}", "D1", "Anna", "anna@example.com", "Oude Gracht 1", "2026-10-01", "10"]
            for n in (1, 2)
        ),
    ]
    result = run(csv_bytes(rows, ","), brand)
    assert result.errors == []
    warnings = [w for w in result.warnings if "confirmed other contact details" in str(w)]
    assert [w.line for w in warnings] == [2]  # once for the customer, on its first row
    engine.commit(db.session(), result, brand=brand, by="test")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Debtor, anna.id).address_line == "Nieuwe Weg 9"
    assert db.session.scalar(select(func.count(Invoice.id))) == 2

    same = [header, ["F-203", "D1", "Anna", "anna@example.com", "Nieuwe Weg 9", "2026-10-02", "5"]]
    again = run(csv_bytes(same, ","), brand)
    assert not [w for w in again.warnings if "confirmed other contact details" in str(w)]
