"""File readers chosen by content, not by extension: xlsx/ods/xls via calamine, and CSV."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from portal.domain.problems import N_, Problem

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_UNZIPPED = 1024 * 1024 * 1024  # 1 GiB of XML is far beyond any real export
MAX_RATIO = 500  # a large member compressed this well is a zip bomb, not a spreadsheet
_XML_TRAPS = (b"<!DOCTYPE", b"<!ENTITY")


class ReadError(Problem):
    """The file cannot be read; the message tells the person what to do."""


def detect(data: bytes) -> str:
    """The kind of spreadsheet by its first bytes: xlsx, ods, xls or csv."""
    if not data.strip():
        raise ReadError(N_("The file is empty."))
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
                if "xl/workbook.xml" in names:
                    return "xlsx"
                if "mimetype" in names and archive.read("mimetype").startswith(
                    b"application/vnd.oasis.opendocument.spreadsheet"
                ):
                    return "ods"
        except zipfile.BadZipFile as exc:
            raise ReadError(N_("The file looks like a zip archive but is damaged.")) from exc
        raise ReadError(N_("This zip file is not an Excel (.xlsx) or OpenDocument (.ods) sheet."))
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if data.startswith((b"MZ", b"%PDF", b"\x7fELF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        raise ReadError(N_("This is not a spreadsheet. Upload .xlsx, .xls, .ods or .csv."))
    if b"\x00" in data[:4096]:
        raise ReadError(
            N_("This is not a spreadsheet or text file. Upload .xlsx, .xls, .ods or .csv.")
        )
    return "csv"


def read_rows(
    data: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> list[list[Any]]:
    """All rows of the first sheet as Python values (formulas: their stored results)."""
    if len(data) > max_bytes:
        raise ReadError(N_("The file is larger than %(mb)d MB."), mb=max_bytes // (1024 * 1024))
    kind = detect(data)
    if kind in ("xlsx", "ods"):
        _check_zip(data)
    rows = _read_csv(data) if kind == "csv" else _read_calamine(data)
    if len(rows) > max_rows:
        raise ReadError(
            N_("The file has more than %(rows)s rows. Split it into smaller files."),
            rows=f"{max_rows:,}",
        )
    return rows


def _check_zip(data: bytes) -> None:
    """Refuse zip bombs and XML entity tricks before any XML parser sees the file."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        total = 0
        for info in archive.infolist():
            total += info.file_size
            if total > MAX_UNZIPPED:
                raise ReadError(N_("The file unpacks to an unreasonable size; it was refused."))
            big = info.file_size > 10 * 1024 * 1024
            if big and info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                raise ReadError(
                    N_("The file is compressed suspiciously well (a zip bomb?); refused.")
                )
            if info.filename.endswith(".xml") or info.filename.endswith(".rels"):
                with archive.open(info) as member:
                    head = member.read(64 * 1024)
                    if any(trap in head for trap in _XML_TRAPS):
                        raise ReadError(N_("The file contains XML declarations we do not accept."))


def _read_calamine(data: bytes) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0)
        return [list(row) for row in sheet.to_python(skip_empty_area=False)]
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise ReadError(N_("The spreadsheet could not be read: %(error)s"), error=str(exc)) from exc


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) when it decodes cleanly, else Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff_delimiter(text: str) -> str:
    """The delimiter among ; , and tab that splits the first lines most consistently."""
    lines = [line for line in text.splitlines()[:30] if line.strip()]
    best, best_score = ",", -1
    for delimiter in (";", "\t", ","):
        counts = [len(next(csv.reader([line], delimiter=delimiter))) for line in lines]
        wide = [c for c in counts if c > 1]
        score = max((wide.count(c) for c in set(wide)), default=0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv(data: bytes) -> list[list[Any]]:
    text = decode_text(data)
    return list(_csv_rows(text, sniff_delimiter(text)))


def _csv_rows(text: str, delimiter: str) -> Iterator[list[Any]]:
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
