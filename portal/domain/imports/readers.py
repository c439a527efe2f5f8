"""File readers chosen by content, not by extension: xlsx/ods/xls via calamine, and CSV."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from portal.domain.problems import N_, Problem

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_UNZIPPED = 1024 * 1024 * 1024  # 1 GiB of XML is far beyond any real export
MAX_RATIO = 500  # a large member compressed this well is a zip bomb, not a spreadsheet


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


@dataclass
class Sheet:
    """The rows of a file's first sheet, read one at a time (only one row of Python values
    is made at a time; the whole sheet is never a list)."""

    rows: Iterator[list[Any]]
    count: int  # rows in the sheet; for CSV an upper bound (its line breaks)


def open_sheet(data: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> Sheet:
    """The first sheet of `data` as rows of Python values (formulas: their stored results).

    The size, the kind (by content) and, for zip-based files, the safety of the XML are
    checked first (ReadError). Reading the rows may still raise ReadError: a CSV row that
    cannot be read, or more than `max_rows` rows.
    """
    kind = check(data, max_bytes=max_bytes)
    sheet = _csv_sheet(data, max_rows) if kind == "csv" else _calamine_sheet(data)
    if sheet.count > max_rows and kind != "csv":
        raise _too_many(max_rows)
    return sheet


def check(data: bytes, *, max_bytes: int = MAX_BYTES) -> str:
    """Everything we know about a file before any parser reads it: size, kind by content and
    (xlsx, ods) zip bombs and XML tricks. Returns the kind; raises ReadError."""
    if len(data) > max_bytes:
        raise ReadError(N_("The file is larger than %(mb)d MB."), mb=max_bytes // (1024 * 1024))
    kind = detect(data)
    if kind in ("xlsx", "ods"):
        _check_zip(data)
    return kind


def read_rows(
    data: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> list[list[Any]]:
    """All rows of the first sheet at once (small files; imports use `open_sheet`)."""
    return list(open_sheet(data, max_bytes=max_bytes, max_rows=max_rows).rows)


def _too_many(max_rows: int) -> ReadError:
    return ReadError(
        N_("The file has more than %(rows)s rows. Split it into smaller files."),
        rows=f"{max_rows:,}",
    )


_CHUNK = 64 * 1024
_XML_TRAP = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_TRAP_OVERLAP = 32  # bytes kept from the previous chunk, so a trap split by a chunk is seen


def _check_zip(data: bytes) -> None:
    """Refuse zip bombs and XML entity tricks before any XML parser sees the file.

    Every XML part is read to its end, a chunk at a time (memory stays small however large
    the part), so a declaration far down a part is found too.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ReadError(N_("The file looks like a zip archive but is damaged.")) from exc
    with archive:
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
            if info.filename.endswith((".xml", ".rels")):
                _check_xml(archive, info)


def _check_xml(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    tail = b""
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                window = tail + chunk
                if _XML_TRAP.search(window):
                    raise ReadError(N_("The file contains XML declarations we do not accept."))
                if b"\x00" in chunk:  # UTF-16 or UTF-32 would hide a declaration from us
                    raise ReadError(N_("The file contains XML in an encoding we do not accept."))
                tail = window[-_TRAP_OVERLAP:]
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ReadError(N_("The file looks like a zip archive but is damaged.")) from exc


def _calamine_sheet(data: bytes) -> Sheet:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0)
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise _unreadable(exc) from exc
    count = sheet.end[0] + 1 if sheet.end else 0

    def rows() -> Iterator[list[Any]]:
        # iter_rows starts at the first row but at the first column that has data; pad it
        # so that column numbers are those the person sees in the sheet
        pad = [""] * (sheet.start[1] if sheet.start else 0)
        try:
            for row in sheet.iter_rows():
                yield pad + row if pad else row
        except Exception as exc:
            raise _unreadable(exc) from exc

    return Sheet(rows(), count)


def _unreadable(exc: Exception) -> ReadError:
    return ReadError(N_("The spreadsheet could not be read: %(error)s"), error=str(exc)[:300])


def text_encoding(data: bytes) -> str:
    """ "utf-8-sig" with a BOM, "utf-8" when the whole file decodes cleanly, else "cp1252".

    Checked a chunk at a time: a large file is never held twice as text."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for at in range(0, len(view), 1024 * 1024):
            decoder.decode(view[at : at + 1024 * 1024])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def sniff_delimiter(text: str) -> str:
    """The delimiter among ; , and tab that splits the first lines most consistently."""
    lines = [line for line in text.splitlines()[:30] if line.strip()]
    best, best_score = ",", -1
    for delimiter in (";", "\t", ","):
        try:
            counts = [len(next(csv.reader([line], delimiter=delimiter))) for line in lines]
        except csv.Error:  # a line the csv module refuses (too long, a NUL): it proves nothing
            counts = []
        wide = [c for c in counts if c > 1]
        score = max((wide.count(c) for c in set(wide)), default=0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_sheet(data: bytes, max_rows: int) -> Sheet:
    encoding = text_encoding(data)
    head = data[: 256 * 1024].decode(encoding, errors="replace")
    delimiter = sniff_delimiter(head)
    return Sheet(_csv_rows(data, encoding, delimiter, max_rows), data.count(b"\n") + 1)


def _csv_rows(data: bytes, encoding: str, delimiter: str, max_rows: int) -> Iterator[list[Any]]:
    """The records of a CSV file, decoded as they are read."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="replace", newline="")
    reader = csv.reader(stream, delimiter=delimiter)
    read = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row_number = read + 1
            if "field larger than field limit" in str(exc):
                raise ReadError(
                    N_(
                        "Row %(row)d has a cell longer than %(max)d characters; "
                        "this does not look like an invoice list."
                    ),
                    row=row_number,
                    max=csv.field_size_limit(),
                ) from exc
            raise ReadError(
                N_("Row %(row)d cannot be read as CSV: %(error)s"),
                row=row_number,
                error=str(exc)[:200],
            ) from exc
        read += 1
        if read > max_rows:
            raise _too_many(max_rows)
        yield row
