"""The figures behind a chart as a spreadsheet: plain values, one sheet each."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

from portal.domain import sheets as guard

Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]]]


def workbook(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx file with a header row and rows per sheet (title, header, rows)."""
    book = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append(guard.xlsx_row(sheet, header))
        for row in rows:  # text from outside (a debtor's name) never becomes a formula
            sheet.append(guard.xlsx_row(sheet, row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
