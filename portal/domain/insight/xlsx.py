"""The figures behind a chart as a spreadsheet: plain values, one sheet each."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]]]


def _plain(value: Any) -> Any:
    # text from outside (a debtor's name) must never become a formula
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def workbook(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx file with a header row and rows per sheet (title, header, rows)."""
    book = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append(list(header))
        for row in rows:
            sheet.append([_plain(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
