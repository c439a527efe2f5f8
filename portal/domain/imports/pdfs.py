"""Original invoice PDFs from a ZIP, matched to invoices by file name."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.domain.imports.readers import ReadError
from portal.domain.problems import N_
from portal.models import Invoice, utcnow

MAX_ZIP_BYTES = 200 * 1024 * 1024
MAX_PDF_BYTES = 10 * 1024 * 1024
MAX_FILES = 20_000


@dataclass
class PdfMatch:
    matched: dict[str, bytes] = field(default_factory=dict)  # invoice number -> PDF
    unmatched: list[str] = field(default_factory=list)  # file names without an invoice
    refused: list[str] = field(default_factory=list)  # "name: reason"


def _number_for(stem: str, numbers: set[str]) -> str | None:
    """'2026001', 'Factuur 2026001', 'invoice-2026001' all belong to invoice 2026001."""
    if stem in numbers:
        return stem
    for index, char in enumerate(stem):
        if not char.isalnum() and stem[index + 1 :] in numbers:
            return stem[index + 1 :]
    return None


def _open(source: bytes | Path) -> zipfile.ZipFile:
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    if size > MAX_ZIP_BYTES:
        raise ReadError(N_("The ZIP of PDFs is larger than %(mb)d MB."), mb=MAX_ZIP_BYTES // 2**20)
    try:
        return zipfile.ZipFile(source if isinstance(source, Path) else io.BytesIO(source))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReadError(N_("The PDF archive is not a ZIP file.")) from exc


def check_archive(data: bytes) -> None:
    """What can be known of a ZIP of PDFs before it is kept: its size, that it is a ZIP,
    and how many files it holds (ReadError otherwise); each PDF is judged when matched."""
    with _open(data) as archive:
        if sum(1 for i in archive.infolist() if not i.is_dir()) > MAX_FILES:
            raise ReadError(N_("The ZIP holds more than %(n)s files."), n=f"{MAX_FILES:,}")


def match_pdfs(source: bytes | Path, numbers: Iterable[str], *, keep: bool = True) -> PdfMatch:
    """Read a ZIP of PDFs and pair each with an invoice number from its file name.

    With `keep=False` the PDFs are checked but not held (their content is b""): a preview
    only needs the names, and a ZIP may hold 200 MB.
    """
    wanted = set(numbers)
    result = PdfMatch()
    with _open(source) as archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        if len(entries) > MAX_FILES:
            raise ReadError(N_("The ZIP holds more than %(n)s files."), n=f"{MAX_FILES:,}")
        for info in entries:
            name = PurePosixPath(info.filename).name
            if name.startswith(".") or info.filename.startswith("__MACOSX/"):
                continue
            if not name.lower().endswith(".pdf"):
                result.refused.append(f"{name}: not a PDF file")
                continue
            if info.file_size > MAX_PDF_BYTES:
                result.refused.append(f"{name}: larger than 10 MB")
                continue
            with archive.open(info) as member:
                content = member.read(MAX_PDF_BYTES + 1)
            if len(content) > MAX_PDF_BYTES or not content.startswith(b"%PDF-"):
                result.refused.append(f"{name}: not a PDF file")
                continue
            number = _number_for(PurePosixPath(name).stem.strip(), wanted)
            if number is None:
                result.unmatched.append(name)
            else:
                result.matched[number] = content if keep else b""
    return result


def attach(session: Session, brand_id: int, matched: dict[str, bytes]) -> int:
    """Store the originals on the brand's invoices; returns how many were attached."""
    if not matched:
        return 0
    ids = dict(
        session.execute(
            select(Invoice.number, Invoice.id).where(
                Invoice.brand_id == brand_id, Invoice.number.in_(list(matched))
            )
        ).all()
    )
    now = utcnow()
    rows = [
        {"id": ids[n], "original_pdf": pdf, "has_original_pdf": True, "updated_at": now}
        for n, pdf in matched.items()
        if n in ids
    ]
    if rows:
        session.execute(update(Invoice), rows)
    return len(rows)
