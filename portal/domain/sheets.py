"""Spreadsheets the product writes (xlsx and CSV) never carry a formula from user data.

A cell whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a
formula by Excel and LibreOffice (OWASP, "CSV Injection"): an invoice reference such as
`=HYPERLINK("https://evil.example", "Pay here")` would become a live link, or worse. Every
writer builds its rows through this module:

- xlsx: every such text is a text cell with Excel's quote prefix (never a formula, also
  not when someone edits the cell later);
- CSV: such a text gets a leading `'`, and every text is quoted, so a `,` or `;` inside it
  cannot start a cell of its own in a spreadsheet that splits on the other separator.

Numbers stay numbers: ints, floats and Decimals (a negative amount too) are written as
numbers, unquoted in CSV; only text is judged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from openpyxl.cell import Cell

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_like(text: str) -> bool:
    """True when a spreadsheet could read `text` as a formula (also after leading spaces or
    line breaks, which some programs skip)."""
    return text[:1] in FORMULA_START or text.lstrip(" \n")[:1] in FORMULA_START


def csv_value(value: Any) -> Any:
    """A value for a CSV row: formula-like text gets a leading `'`; the rest is unchanged."""
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value


def csv_writer(out: Any, delimiter: str = ";") -> Any:
    """A csv.writer that quotes every text (numbers stay bare); give it rows made with
    `csv_row`."""
    return csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_NONNUMERIC)


def csv_row(values: Iterable[Any]) -> list[Any]:
    """A row for `csv_writer`: texts guarded, numbers as they are, None as empty text."""
    return ["" if v is None else csv_value(v) for v in values]


def xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """A row for `sheet.append()` (normal or write-only) in which formula-like text is a
    text cell with the quote prefix; other values are left to openpyxl."""
    return [_text_cell(sheet, v) if isinstance(v, str) and formula_like(v) else v for v in values]


def _text_cell(sheet: Any, text: str) -> Cell:
    cell = Cell(sheet, row=1, column=1, value=text)  # append() sets the position
    cell.data_type = "s"  # openpyxl makes every text that starts with "=" a formula
    cell.quotePrefix = True
    return cell
