"""Documents a debtor can download: invoice copies (PDF) and statements (PDF, xlsx)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import segno
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import pdf, sheets
from portal.models import Brand, Debtor, InstalmentPlan, Invoice, Payment

Render = Callable[..., str]  # render(template_name, **context) -> HTML
TEMPLATE_VERSION = "3"  # bump when templates/pdf changes, to refresh cached copies


def html_to_pdf(html: str, session: Session | None = None) -> bytes:
    """Render HTML to PDF; it fetches only data URIs, static files and (with a session)
    brand logos from the database (see `portal.domain.pdf`)."""
    return pdf.render(html, logo_source(session) if session is not None else None)


def logo_source(session: Session) -> pdf.LogoSource:
    """Brand logos from the database, for the PDF fetcher."""

    def logo(brand_id: int) -> tuple[bytes, str] | None:
        row = session.execute(
            select(Brand.logo, Brand.logo_mime).where(Brand.id == brand_id)
        ).first()
        if row is None or not row.logo or not row.logo_mime:
            return None
        return bytes(row.logo), str(row.logo_mime)

    return logo


def logo_data_uri(session: Session, brand: Brand) -> str:
    """The brand logo inlined for a PDF, or '' when it has none."""
    logo = session.scalar(select(Brand.logo).where(Brand.id == brand.id))
    if not logo or not brand.logo_mime:
        return ""
    return f"data:{brand.logo_mime};base64,{base64.b64encode(logo).decode()}"


def invoice_copy(
    session: Session,
    invoice: Invoice,
    lang: str,
    render: Render,
    cache_dir: Path,
    pay_url: str = "",
) -> tuple[bytes, bool]:
    """The PDF copy of an invoice and whether it came from the cache.

    The uploaded original wins; otherwise a branded copy is rendered once per
    (invoice version, brand version, language) and kept on disk.
    """
    if invoice.has_original_pdf:
        original = session.scalar(select(Invoice.original_pdf).where(Invoice.id == invoice.id))
        if original:
            return original, True
    key = hashlib.sha256(
        "|".join(
            [
                TEMPLATE_VERSION,
                str(invoice.id),
                invoice.updated_at.isoformat(),
                invoice.brand.updated_at.isoformat(),
                invoice.debtor.name,
                lang,
                pay_url,
            ]
        ).encode()
    ).hexdigest()[:24]
    path = cache_dir / f"invoice-{invoice.id}-{key}.pdf"
    if path.exists():
        return path.read_bytes(), True
    from portal.domain.payments import references  # payments imports this module

    reference = ""
    if invoice.kind == "invoice" and invoice.open_cents > 0 and invoice.brand.iban:
        reference = references.pretty(references.for_invoices(session, invoice.debtor, [invoice]))
    html = render(
        "pdf/invoice.html",
        invoice=invoice,
        debtor=invoice.debtor,
        brand=invoice.brand,
        transfer_reference=reference,
        pay_url=pay_url,
        pay_qr=segno.make(pay_url, error="m").svg_data_uri(scale=4, border=0) if pay_url else "",
        logo=logo_data_uri(session, invoice.brand),
        lang=lang,
    )
    content = html_to_pdf(html, session)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(f"invoice-{invoice.id}-*.pdf"):
        stale.unlink(missing_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
    return content, False


def statement_pdf(
    session: Session,
    debtor: Debtor,
    invoices: Sequence[Invoice],
    today: dt.date,
    lang: str,
    render: Render,
) -> bytes:
    """A branded statement of all open invoices."""
    html = render(
        "pdf/statement.html",
        debtor=debtor,
        brand=debtor.brand,
        invoices=invoices,
        totals=_totals(invoices),
        today=today,
        logo=logo_data_uri(session, debtor.brand),
        lang=lang,
    )
    return html_to_pdf(html, session)


def receipt_pdf(session: Session, payment: Payment, lang: str, render: Render) -> bytes:
    """The receipt of one received payment: its reference, date, method, amount and how
    it was booked on invoices (costs and interest first, art. 6:44 BW)."""
    html = render(
        "pdf/receipt.html",
        payment=payment,
        debtor=payment.debtor,
        brand=payment.brand,
        logo=logo_data_uri(session, payment.brand),
        lang=lang,
    )
    return html_to_pdf(html, session)


def plan_agreement_pdf(
    session: Session, plan: InstalmentPlan, accepted_at: str, lang: str, render: Render
) -> bytes:
    """The payment plan as the debtor agreed to it: invoices, instalments, and the very
    text accepted with its moment, address and fingerprint (SHA-256)."""
    html = render(
        "pdf/plan_agreement.html",
        plan=plan,
        debtor=plan.debtor,
        brand=plan.debtor.brand,
        accepted_at=accepted_at,
        fingerprint=hashlib.sha256(plan.agreement_text.encode()).hexdigest(),
        logo=logo_data_uri(session, plan.debtor.brand),
        lang=lang,
    )
    return html_to_pdf(html, session)


def statement_xlsx(
    debtor: Debtor, invoices: Sequence[Invoice], today: dt.date, labels: dict[str, str]
) -> bytes:
    """The open invoices as a spreadsheet with real dates and amounts (not text); no text
    from the invoices becomes a formula (`sheets.xlsx_row`)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = labels.get("sheet", "Statement")[:31]
    ws.append(sheets.xlsx_row(ws, [labels["title"], debtor.name, debtor.number]))
    ws.append([labels["date"], today])
    ws.append([])
    headers = ["number", "invoice_date", "due_date", "reference", "currency", "total", "open"]
    ws.append(sheets.xlsx_row(ws, [labels[h] for h in headers]))
    for cell in ws[4]:
        cell.font = Font(bold=True)
    for inv in invoices:
        ws.append(
            sheets.xlsx_row(
                ws,
                [
                    inv.number,
                    inv.invoice_date,
                    inv.due_date,
                    inv.reference,
                    inv.currency,
                    inv.total_cents / 100,
                    inv.open_cents / 100,
                ],
            )
        )
    for row in ws.iter_rows(min_row=5, min_col=2, max_col=3):
        for cell in row:
            cell.number_format = "DD-MM-YYYY"
    for row in ws.iter_rows(min_row=5, min_col=6, max_col=7):
        for cell in row:
            cell.number_format = "#,##0.00"
    ws["B2"].number_format = "DD-MM-YYYY"
    for col, width in zip("ABCDEFG", (18, 14, 14, 22, 9, 14, 14), strict=True):
        ws.column_dimensions[col].width = width
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _totals(invoices: Sequence[Invoice]) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for inv in invoices:
        totals[inv.currency] = totals.get(inv.currency, 0) + inv.open_cents
    return totals
