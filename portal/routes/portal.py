"""The debtor's own pages: overview, invoices, copies and statements."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _

from portal.db import db
from portal.debtor_session import debtor_required, signed_in_debtor
from portal.domain import documents, whats_next
from portal.domain import invoices as inv
from portal.domain.collection import handover
from portal.domain.payments import paylinks, receipts
from portal.domain.payments import selection as choosing
from portal.domain.plans import listing, progress
from portal.htmx import is_htmx, render_page
from portal.i18n import current_language
from portal.models import Invoice
from portal.runtime import business_today, settings

bp = Blueprint("portal", __name__)


@bp.app_template_global()
def row_states(items: Sequence[Invoice]) -> dict[int, whats_next.Next]:
    """What comes next for each open invoice of the signed-in debtor on a page."""
    return whats_next.for_invoices(db.session(), signed_in_debtor(), items, business_today())


@bp.get("/overview")
@debtor_required
def overview() -> str:
    debtor = signed_in_debtor()
    summary = inv.overview(db.session(), debtor.id, business_today())
    recent = inv.list_invoices(db.session(), debtor.id, inv.InvoiceFilter(status="open"))
    return render_template(
        "overview.html",
        debtor=debtor,
        summary=summary,
        page=recent,
        agency_notices=handover.notices(db.session(), debtor.id),
        offers=choosing.pay_all_offers(db.session(), debtor, business_today()),
        plans=[
            (
                plan,
                progress.first_open(plan),
                plan.total_cents - progress.paid_toward(plan),
            )
            for plan in listing.plans_of(db.session(), debtor.id)
            if plan.status == "active"
        ],
        today=business_today(),
    )


@bp.get("/invoices")
@debtor_required
def invoice_list() -> Response:
    debtor = signed_in_debtor()
    flt = inv.InvoiceFilter.parse(request.args.to_dict())
    page = inv.list_invoices(db.session(), debtor.id, flt)
    offers = None if is_htmx() else choosing.pay_all_offers(db.session(), debtor, business_today())
    return render_page(
        "invoices/list.html",
        "invoices/_list.html",
        flt=flt,
        page=page,
        agency_notices=handover.notices(db.session(), debtor.id),
        offers=offers,
        today=business_today(),
    )


@bp.get("/invoices/<int:invoice_id>")
@debtor_required
def invoice_detail(invoice_id: int) -> str:
    invoice = inv.get_for_debtor(db.session(), signed_in_debtor().id, invoice_id) or abort(404)
    events = inv.timeline(db.session(), invoice.id)
    plan = progress.holding(db.session(), invoice.debtor_id, invoice.id)
    return render_template(
        "invoices/detail.html",
        invoice=invoice,
        plan=plan,
        next_instalment=progress.first_open(plan) if plan else None,
        status=inv.status_view(invoice, business_today()),
        payments=[e for e in events if e.action == "payment.received"],
        events=events,
    )


@bp.get("/invoices/<int:invoice_id>/pdf")
@debtor_required
def invoice_pdf(invoice_id: int) -> Response:
    invoice = inv.get_for_debtor(db.session(), signed_in_debtor().id, invoice_id) or abort(404)
    pay_url = ""
    if invoice.payable:  # an open invoice's copy carries a QR code of a pay-link
        link = paylinks.for_copy(db.session(), invoice)
        token = paylinks.token(link, settings().secret_key)
        pay_url = settings().base_url.rstrip("/") + url_for("pay.link", token=token)
    pdf, _cached = documents.invoice_copy(
        db.session(), invoice, current_language(), render_template, _cache_dir(), pay_url
    )
    db.session.commit()  # the payment reference printed on the copy is kept
    name = _("invoice")
    return download(pdf, "application/pdf", f"{name}-{invoice.number}.pdf")


@bp.get("/statement.pdf")
@debtor_required
def statement_pdf() -> Response:
    debtor = signed_in_debtor()
    rows = inv.open_invoices(db.session(), debtor.id)
    pdf = documents.statement_pdf(
        db.session(), debtor, rows, business_today(), current_language(), render_template
    )
    name = _("statement")
    return download(pdf, "application/pdf", f"{name}-{debtor.number}.pdf")


@bp.get("/statement.xlsx")
@debtor_required
def statement_xlsx() -> Response:
    debtor = signed_in_debtor()
    rows = inv.open_invoices(db.session(), debtor.id)
    labels = {
        "sheet": _("Statement"),
        "title": _("Statement of open invoices"),
        "date": _("Date"),
        "number": _("Invoice number"),
        "invoice_date": _("Invoice date"),
        "due_date": _("Due date"),
        "reference": _("Your reference"),
        "currency": _("Currency"),
        "total": _("Amount"),
        "open": _("Open"),
    }
    data = documents.statement_xlsx(debtor, rows, business_today(), labels)
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = _("statement")
    return download(data, mime, f"{name}-{debtor.number}.xlsx")


@bp.get("/payments")
@debtor_required
def payment_list() -> str:
    """Every payment of the signed-in debtor, newest first, each with its receipt."""
    rows = receipts.for_debtor(db.session(), signed_in_debtor().id)
    return render_template("payments/list.html", payments=rows)


@bp.get("/payments/<public_id>/receipt.pdf")
@debtor_required
def receipt_pdf(public_id: str) -> Response:
    """The receipt of one of the debtor's own received payments, as PDF."""
    payment = receipts.get_for_debtor(db.session(), signed_in_debtor().id, public_id)
    if payment is None or payment.status not in receipts.RECEIPT_STATES:
        abort(404)
    pdf = documents.receipt_pdf(db.session(), payment, current_language(), render_template)
    name = _("receipt")
    return download(pdf, "application/pdf", f"{name}-{receipts.reference_of(payment)}.pdf")


def _cache_dir() -> Path:
    return Path(current_app.instance_path) / "cache" / "pdf"


def download(data: bytes, mime: str, filename: str) -> Response:
    """A file to save, with a safe file name."""
    response = Response(data, mimetype=mime)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response
