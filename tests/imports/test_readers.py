"""Readers of uploaded files: the whole of every XML part is checked, CSV rows the csv
module cannot read are a clean error, and rows are read one at a time."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook
from python_calamine import CalamineWorkbook

from portal.domain.imports.readers import ReadError, open_sheet, read_rows
from tests.admin.test_admin import admin_login
from tests.admin.test_admin_imports import upload
from tests.factories import create_admin, create_brand
from tests.imports.test_import import HEADER, csv_bytes, rows_ok, run, xlsx


@pytest.fixture
def brand(app):
    return create_brand(slug="zon", name="Zonnestroom")


def rewritten(data: bytes, member: str, change) -> bytes:
    """`data` (an xlsx) with one member's bytes replaced by change(old bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info, change(content) if info.filename == member else content)
    return out.getvalue()


def _late_entity(xml: bytes) -> bytes:
    # a comment of 100 KiB in the prolog, then an entity declaration: valid XML
    declaration, rest = xml.split(b"?>", 1) if xml.startswith(b"<?xml") else (b"", xml)
    padding = b"<!--" + b" " * (100 * 1024) + b"-->"
    prolog = declaration + b"?>" if declaration else b'<?xml version="1.0" encoding="UTF-8"?>'
    return prolog + padding + b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + rest


def _utf16(xml: bytes) -> bytes:
    text = xml.decode("utf-8")
    if not text.startswith("<?xml"):
        text = '<?xml version="1.0" encoding="UTF-16"?>' + text
    return text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")


@pytest.mark.parametrize(
    ("change", "words"),
    [(_late_entity, "XML declarations"), (_utf16, "encoding we do not accept")],
)
def test_the_whole_of_every_xml_part_is_checked(change, words):
    evil = rewritten(xlsx(rows_ok()), "xl/workbook.xml", change)
    with pytest.raises(ReadError, match=words):
        read_rows(evil)


def test_a_csv_cell_beyond_the_csv_limit_is_a_clean_error_naming_its_row(brand):
    rows = [HEADER, ["F-1", "D1", "A", "a@example.com", "01-10-2026", "", "10", "", "EUR", ""]]
    rows.append(
        ["F-2", "D1", "A", "a@example.com", "01-10-2026", "", "10", "", "EUR", "x" * 200_000]
    )
    result = run(csv_bytes(rows), brand)
    (problem,) = result.errors
    assert problem.message.startswith("Row 3 has a cell longer than 131072 characters")
    assert result.rows == [] and not result.can_commit


def test_the_admin_sees_the_overlong_cell_as_an_error_not_a_crash(client):
    shop = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    rows = [
        HEADER,
        ["F-1", "D1", "A", "a@example.com", "01-10-2026", "", "10", "", "EUR", "x" * 140_000],
    ]
    preview_url = upload(client, shop, csv_bytes(rows), "long.csv").headers["Location"]
    page = client.get(preview_url)
    assert page.status_code == 200
    assert "Row 2 has a cell longer than" in page.get_data(as_text=True)


def test_rows_are_read_one_at_a_time_with_the_columns_the_sheet_shows():
    wb = Workbook()
    ws = wb.active
    ws["C3"], ws["D4"], ws["C6"] = "Factuurnummer", 12.5, "F-1"
    buffer = io.BytesIO()
    wb.save(buffer)
    sheet = open_sheet(buffer.getvalue())
    assert not isinstance(sheet.rows, list) and sheet.count == 6
    expected = (
        CalamineWorkbook.from_filelike(io.BytesIO(buffer.getvalue()))
        .get_sheet_by_index(0)
        .to_python(skip_empty_area=False)
    )
    assert list(sheet.rows) == expected  # column C is the third column, row 3 the third row
