"""Admin pages for debtors and invoices: search, detail, timeline, contact data."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin import bp, words
from admin.forms import ContactForm
from admin.session import actor, admin_required, current_admin
from admin.worklists import ACTION_WORDS
from portal import runtime
from portal.db import db
from portal.domain import debtors as debtor_domain
from portal.domain import invoices as inv
from portal.domain import login, worklists
from portal.domain.collection.views import collection_view
from portal.domain.params import page_number, whole
from portal.domain.plans import listing
from portal.forms import ConfirmForm
from portal.htmx import render_page
from portal.mails import RequestMails
from portal.models import (
    AuditEvent,
    Brand,
    Debtor,
    DebtorRating,
    Invoice,
    InvoicePrediction,
    Segment,
)


def _page() -> int:
    value = request.args.get("page", "1")
    return page_number(value)


@bp.get("/debtors")
@admin_required()
def debtors() -> Any:
    q = request.args.get("q", "")[:80]
    brand = request.args.get("brand", "")
    grade = request.args.get("grade", "")
    rows, has_next = debtor_domain.search(db.session(), q, whole(brand), _page(), grade)
    ids = [r.debtor.id for r in rows]
    matching = debtor_domain.matching_ids(db.session(), q, whole(brand), grade)
    return render_page(
        "admin/debtors.html",
        "admin/_debtor_rows.html",
        matching=worklists.count(db.session(), matching),
        actions=_bulk_actions(),
        ratings={
            r.debtor_id: r
            for r in db.session.scalars(select(DebtorRating).where(DebtorRating.debtor_id.in_(ids)))
        },
        grade=grade,
        rows=rows,
        has_next=has_next,
        page=_page(),
        q=q,
        brand=brand,
        brands=list(db.session.scalars(select(Brand).order_by(Brand.name))),
    )


def _bulk_actions() -> list[tuple[str, Any]]:
    """The bulk actions this admin may choose: changes for full admins, exports for all."""
    me = current_admin()
    allowed = [*(worklists.CHANGES if me and me.is_admin else ()), *worklists.EXPORTS]
    return [(key, ACTION_WORDS[key]) for key in allowed]


def _contact_form(debtor: Debtor) -> ContactForm:
    form = ContactForm(obj=debtor)
    if request.method == "GET":
        form.emails.data = ", ".join(e.email for e in debtor.emails)
        form.segment_id.data = str(debtor.segment_id or "")
    return form


@bp.route("/debtors/<int:debtor_id>", methods=["GET", "POST"])
@admin_required()
def debtor_detail(debtor_id: int) -> Any:
    debtor = db.session.get(Debtor, debtor_id) or abort(404)
    form = _contact_form(debtor)
    saved = None
    if form.validate_on_submit():
        values = {
            "name": form.name.data,
            "phone": form.phone.data or "",
            "address_line": form.address_line.data or "",
            "postcode": form.postcode.data or "",
            "city": form.city.data or "",
            "country": (form.country.data or "").upper(),
            "language": form.language.data,
            "kind": form.kind.data,
            "segment_id": int(form.segment_id.data) if form.segment_id.data else None,
        }
        emails = (form.emails.data or "").replace(";", ",").split(",")
        user = current_admin()
        try:
            saved = debtor_domain.update_contact(
                db.session(),
                debtor,
                values,
                emails,
                by=actor(),
                may_change_emails=bool(user and user.is_admin),
                notifier=RequestMails(runtime.settings()),
            )
        except debtor_domain.EmailChangeRefused:
            db.session.rollback()
            debtor = db.session.get(Debtor, debtor_id) or abort(404)
            form.emails.errors = [_("Only a full admin may change email addresses.")]
        else:
            db.session.commit()  # the old addresses are told when emails changed
            return redirect(url_for("admin.debtor_detail", debtor_id=debtor.id, saved=1), code=303)
    day = runtime.business_today()
    invoices = list(
        db.session.scalars(
            select(Invoice).where(Invoice.debtor_id == debtor.id).order_by(Invoice.due_date.desc())
        )
    )
    events = list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.debtor_id == debtor.id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(100)
        )
    )
    status = 422 if form.errors else 200
    from admin.insight import debtor_panel

    return render_template(
        "admin/debtor.html",
        **debtor_panel(debtor.id, day),
        debtor=debtor,
        plans=listing.of_debtor(db.session(), debtor.id),
        form=form,
        invoices=invoices,
        events=events,
        invoice_numbers=words.invoice_numbers({e.invoice_id for e in events if e.invoice_id}),
        today=day,
        saved=saved or request.args.get("saved"),
        segments=list(db.session.scalars(select(Segment).order_by(Segment.name))),
    ), status


@bp.post("/debtors/<int:debtor_id>/sign-out-everywhere")
@admin_required()
def debtor_sign_out(debtor_id: int) -> Any:
    """End every portal session that can open this debtor's account (a lost phone, a
    shared computer); audited."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    debtor = db.session.get(Debtor, debtor_id) or abort(404)
    login.end_all_sessions(db.session(), [debtor.id], actor(), "signed out by an admin")
    db.session.commit()
    flash(_("Every portal session of this debtor has ended."), "success")
    return redirect(url_for("admin.debtor_detail", debtor_id=debtor.id), 303)


@bp.get("/invoices")
@admin_required()
def invoices() -> Any:
    flt = inv.AdminFilter.parse(request.args.to_dict())
    day = runtime.business_today()
    rows, has_next = inv.admin_list(db.session(), flt, day)
    matching = inv.admin_matching(flt, day).with_only_columns(Invoice.id)
    return render_page(
        "admin/invoices.html",
        "admin/_invoice_rows.html",
        rows=rows,
        matching=worklists.count(db.session(), matching),
        actions=_bulk_actions(),
        has_next=has_next,
        flt=flt,
        today=day,
        brands=list(db.session.scalars(select(Brand).order_by(Brand.name))),
        segments=list(db.session.scalars(select(Segment).order_by(Segment.name))),
    )


@bp.get("/invoices/<int:invoice_id>")
@admin_required()
def invoice_detail(invoice_id: int) -> str:
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    day = runtime.business_today()
    from admin.payments import invoice_payments, link_views
    from portal.domain.dunning import engine as dunning
    from portal.domain.dunning import holds

    steps_done = dunning.steps_done(db.session(), invoice.id)
    from portal.models import Claim, ClaimInvoice

    claims = list(
        db.session.scalars(
            select(Claim)
            .join(ClaimInvoice, ClaimInvoice.claim_id == Claim.id)
            .where(ClaimInvoice.invoice_id == invoice.id)
            .order_by(Claim.id)
        )
    )
    return render_template(
        "admin/invoice.html",
        claims=claims,
        invoice=invoice,
        status=inv.status_view(invoice, day),
        events=inv.timeline(db.session(), invoice.id),
        payments=invoice_payments(invoice.id),
        links=link_views(invoice),
        link_days=runtime.settings().pay_link_days,
        steps_done=steps_done,
        schedule=dunning.schedule_for(db.session(), invoice.debtor),
        held=invoice.held_on(day),
        hold_reasons=holds.HOLD_REASONS,
        today=day,
        prediction=db.session.get(InvoicePrediction, invoice.id),
        collection=collection_view(db.session(), invoice),
    )
