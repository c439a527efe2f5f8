"""The debtor's own pages: overview, invoices, copies and statements."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _

from portal.db import db
from portal.debtor_session import debtor_required, signed_in_debtor
from portal.domain import documents
from portal.domain import invoices as inv
from portal.domain.collection import handover
from portal.domain.plans import progress
from portal.htmx import render_page
from portal.i18n import current_language
from portal.paying import business_today

bp = Blueprint("portal", __name__)


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
        today=business_today(),
        agency_notices=handover.notices(db.session(), debtor.id),
    )


@bp.get("/invoices")
@debtor_required
def invoice_list() -> Response:
    debtor = signed_in_debtor()
    flt = inv.InvoiceFilter.parse(request.args.to_dict())
    page = inv.list_invoices(db.session(), debtor.id, flt)
    return render_page(
        "invoices/list.html",
        "invoices/_list.html",
        flt=flt,
        page=page,
        today=business_today(),
        agency_notices=handover.notices(db.session(), debtor.id),
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
    pdf, _cached = documents.invoice_copy(
        db.session(), invoice, current_language(), render_template, _cache_dir()
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


def _cache_dir() -> Path:
    return Path(current_app.instance_path) / "cache" / "pdf"


def download(data: bytes, mime: str, filename: str) -> Response:
    """A file to save, with a safe file name."""
    response = Response(data, mimetype=mime)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response
