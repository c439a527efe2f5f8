"""Admin: the collection queue, segment rules, agencies, hand-overs (dossier, link,
recall), agency reports and write-offs (domain: portal/domain/collection/)."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin import bp, words
from admin.session import actor, admin_required
from portal import collecting, runtime
from portal.db import db
from portal.domain import audit
from portal.domain.collection import agencies, handover, queue, reports, writeoff
from portal.domain.collection.models import (
    Agency,
    AgencyDelivery,
    AgencyReport,
    Handover,
    HandoverState,
)
from portal.domain.money import AmountError, parse_amount
from portal.domain.params import page_number, whole
from portal.domain.problems import Problem
from portal.forms import ConfirmForm
from portal.models import Invoice, Segment


def _checked() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _problem(exc: Problem) -> str:
    return exc.translated(_)


# ----------------------------------------------------------------------- the queue
@bp.get("/collection")
@admin_required()
def collection_queue() -> str:
    q = request.args.get("q", "")[:80].strip()
    page = queue.page(
        db.session(), runtime.business_today(), page_number(request.args.get("page")), q
    )
    return render_template(
        "admin/collection_queue.html",
        page=page,
        q=q,
        today=runtime.business_today(),
        agencies=agencies.all_agencies(db.session(), active_only=True),
    )


@bp.get("/collection/debtors/<int:debtor_id>")
@admin_required()
def collection_debtor(debtor_id: int) -> str:
    entries = queue.entries_of(db.session(), debtor_id)
    if not entries:
        abort(404)
    return render_template(
        "admin/collection_debtor.html",
        debtor=entries[0].invoice.debtor,
        entries=entries,
        today=runtime.business_today(),
        agencies=agencies.all_agencies(db.session(), active_only=True),
        handovers=db.session.scalars(
            select(Handover).where(Handover.debtor_id == debtor_id).order_by(Handover.id.desc())
        ).all(),
    )


@bp.post("/collection/debtors/<int:debtor_id>/hand-over")
@admin_required()
def collection_hand_over(debtor_id: int) -> Any:
    _checked()
    agency_id = whole(request.form.get("agency_id", ""))
    chosen = [v for v in (whole(x) for x in request.form.getlist("invoice")) if v is not None]
    try:
        made = collecting.hand_over(
            db.session(), debtor_id, agency_id or 0, chosen or None, actor()
        )
    except Problem as exc:
        db.session.rollback()
        flash(_problem(exc), "error")
        return redirect(url_for("admin.collection_debtor", debtor_id=debtor_id), 303)
    db.session.commit()
    flash(_("Handed over to %(agency)s.", agency=made.agency.name), "success")
    return redirect(url_for("admin.handover_detail", handover_id=made.id), 303)


@bp.post("/collection/debtors/<int:debtor_id>/stop")
@admin_required()
def collection_stop(debtor_id: int) -> Any:
    _checked()
    try:
        queue.stop(db.session(), debtor_id, request.form.get("reason", "")[:500], actor())
    except Problem as exc:
        db.session.rollback()
        flash(_problem(exc), "error")
        return redirect(url_for("admin.collection_debtor", debtor_id=debtor_id), 303)
    db.session.commit()
    flash(
        _("The automatic hand-over is stopped; hand over by hand when the time comes."), "success"
    )
    return redirect(url_for("admin.collection_debtor", debtor_id=debtor_id), 303)


@bp.post("/collection/debtors/<int:debtor_id>/resume")
@admin_required()
def collection_resume(debtor_id: int) -> Any:
    _checked()
    queue.resume(db.session(), debtor_id, actor())
    db.session.commit()
    flash(_("The segment's rule applies again."), "success")
    return redirect(url_for("admin.collection_debtor", debtor_id=debtor_id), 303)


@bp.post("/collection/debtors/<int:debtor_id>/remove")
@admin_required()
def collection_remove(debtor_id: int) -> Any:
    _checked()
    try:
        queue.remove(db.session(), debtor_id, request.form.get("reason", "")[:500], actor())
    except Problem as exc:
        db.session.rollback()
        flash(_problem(exc), "error")
        return redirect(url_for("admin.collection_debtor", debtor_id=debtor_id), 303)
    db.session.commit()
    flash(_("The invoices left the queue."), "success")
    return redirect(url_for("admin.collection_queue"), 303)


@bp.post("/invoices/<int:invoice_id>/collection")
@admin_required()
def invoice_to_collection(invoice_id: int) -> Any:
    _checked()
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    try:
        queue.mark(db.session(), invoice, actor(), runtime.business_today())
    except Problem as exc:
        db.session.rollback()
        flash(_problem(exc), "error")
        return redirect(url_for("admin.invoice_detail", invoice_id=invoice_id), 303)
    db.session.commit()
    flash(_("The invoice waits in the collection queue."), "success")
    return redirect(url_for("admin.collection_debtor", debtor_id=invoice.debtor_id), 303)


@bp.route("/collection/rules", methods=["GET", "POST"])
@admin_required(full_admin=True)
def collection_rules() -> Any:
    session = db.session()
    error = None
    if request.method == "POST":
        _checked()
        segment = session.get(Segment, whole(request.form.get("segment_id", "")) or 0) or abort(404)
        days = whole(request.form.get("after_days", ""), low=0, high=365)
        try:
            queue.save_rule(
                session,
                segment,
                request.form.get("mode", ""),
                days if days is not None else -1,
                whole(request.form.get("agency_id", "")),
                actor(),
            )
        except Problem as exc:
            session.rollback()
            error = _problem(exc)
        else:
            session.commit()
            flash(_("The rule of %(segment)s is saved.", segment=segment.name), "success")
            return redirect(url_for("admin.collection_rules"), 303)
    return render_template(
        "admin/collection_rules.html",
        segments=list(session.scalars(select(Segment).order_by(Segment.name))),
        rules=queue.rules(session),
        agencies=agencies.all_agencies(session, active_only=True),
        error=error,
    ), (422 if error else 200)


# ----------------------------------------------------------------------- agencies
def _agency_form() -> agencies.AgencyForm:
    f = request.form
    return agencies.AgencyForm(
        name=f.get("name", "").strip()[:120],
        contact_name=f.get("contact_name", "").strip()[:120],
        email=f.get("email", "").strip().lower()[:254],
        phone=f.get("phone", "").strip()[:40],
        website=f.get("website", "").strip()[:200],
        address=f.get("address", "").strip()[:250],
        delivery=f.get("delivery", ""),
        endpoint_url=f.get("endpoint_url", "").strip()[:500],
        fee_terms=f.get("fee_terms", "").strip()[:4000],
        portal_payments=f.get("portal_payments") == "1",
        active=f.get("active", "1") == "1",
    )


@bp.route("/agencies", methods=["GET", "POST"])
@admin_required(full_admin=True)
def agency_list() -> Any:
    session = db.session()
    error, secret, typed = None, None, None
    if request.method == "POST":
        _checked()
        typed = _agency_form()
        try:
            made, secret = agencies.save(
                session,
                None,
                typed,
                actor(),
                production=runtime.settings().is_production,
                allow_private=bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE")),
            )
        except Problem as exc:
            session.rollback()
            error = _problem(exc)
        else:
            session.commit()
            return render_template(
                "admin/agency.html", agency=made, new_secret=secret, **_agency_page(made)
            )
    return render_template(
        "admin/agencies.html", agencies=agencies.all_agencies(session), error=error, typed=typed
    ), (422 if error else 200)


def _agency_page(agency: Agency) -> dict[str, Any]:
    session = db.session()
    return {
        "handovers": session.scalars(
            select(Handover)
            .where(Handover.agency_id == agency.id)
            .order_by(Handover.id.desc())
            .limit(100)
        ).all(),
        "reports": session.scalars(
            select(AgencyReport)
            .where(AgencyReport.agency_id == agency.id)
            .order_by(AgencyReport.id.desc())
            .limit(20)
        ).all(),
        "callback_url": f"{runtime.settings().base_url}/collection/callback/{agency.id}",
    }


@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
@admin_required(full_admin=True)
def agency_detail(agency_id: int) -> Any:
    session = db.session()
    agency = session.get(Agency, agency_id) or abort(404)
    error = None
    if request.method == "POST":
        _checked()
        try:
            agencies.save(
                session,
                agency,
                _agency_form(),
                actor(),
                production=runtime.settings().is_production,
                allow_private=bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE")),
            )
        except Problem as exc:
            session.rollback()
            agency = session.get(Agency, agency_id) or abort(404)
            error = _problem(exc)
        else:
            session.commit()
            flash(_("%(agency)s is saved.", agency=agency.name), "success")
            return redirect(url_for("admin.agency_detail", agency_id=agency.id), 303)
    return render_template(
        "admin/agency.html", agency=agency, error=error, **_agency_page(agency)
    ), (422 if error else 200)


@bp.post("/agencies/<int:agency_id>/secret")
@admin_required(full_admin=True)
def agency_rotate(agency_id: int) -> str:
    _checked()
    agency = db.session.get(Agency, agency_id) or abort(404)
    secret = agencies.rotate_secret(db.session(), agency, actor())
    db.session.commit()
    return render_template(
        "admin/agency.html", agency=agency, new_secret=secret, **_agency_page(agency)
    )


@bp.post("/agencies/<int:agency_id>/report")
@admin_required()
def agency_report_upload(agency_id: int) -> Any:
    _checked()
    agency = db.session.get(Agency, agency_id) or abort(404)
    upload = request.files.get("report")
    if upload is None or not upload.filename:
        flash(_("Choose the agency's report (xlsx or CSV)."), "error")
        return redirect(url_for("admin.agency_detail", agency_id=agency_id), 303)
    try:
        report = reports.upload(
            db.session(),
            agency,
            upload.filename,
            upload.read(reports.MAX_BYTES + 1),
            actor(),
            runtime.business_today(),
        )
    except Problem as exc:
        db.session.rollback()
        flash(_problem(exc), "error")
        return redirect(url_for("admin.agency_detail", agency_id=agency_id), 303)
    db.session.commit()
    flash(
        _(
            "Report read: %(booked)d lines booked, %(already)d booked before, %(problems)d problems.",  # noqa: E501
            booked=report.booked,
            already=report.already,
            problems=len(report.problems),
        ),
        "success" if not report.problems else "error",
    )
    return redirect(url_for("admin.agency_report", report_id=report.id), 303)


@bp.get("/agency-reports/<int:report_id>")
@admin_required()
def agency_report(report_id: int) -> str:
    report = db.session.get(AgencyReport, report_id) or abort(404)
    lines = reports.lines_of(db.session(), report.id)
    return render_template(
        "admin/agency_report.html",
        report=report,
        agency=db.session.get(Agency, report.agency_id),
        lines=lines,
        numbers=words.invoice_numbers({line.invoice_id for line in lines if line.invoice_id}),
    )


# ----------------------------------------------------------------------- hand-overs
@bp.get("/handovers/<int:handover_id>")
@admin_required()
def handover_detail(handover_id: int) -> str:
    h = db.session.get(Handover, handover_id) or abort(404)
    return render_template(
        "admin/handover.html",
        h=h,
        link=collecting.dossier_url(h)
        if h.state == HandoverState.ACTIVE.value and h.link_nonce
        else "",
        deliveries=db.session.scalars(
            select(AgencyDelivery)
            .where(AgencyDelivery.handover_id == h.id)
            .order_by(AgencyDelivery.id)
        ).all(),
    )


@bp.get("/handovers/<int:handover_id>/dossier")
@admin_required()
def handover_dossier(handover_id: int) -> Response:
    h = db.session.get(Handover, handover_id) or abort(404)
    if not h.dossier:
        abort(404)
    audit.record(
        db.session(), actor(), "collection.dossier_downloaded", debtor_id=h.debtor_id, handover=h.id
    )
    db.session.commit()
    response = Response(h.dossier, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="dossier-{h.id}.zip"'
    return response


@bp.post("/handovers/<int:handover_id>/link")
@admin_required()
def handover_new_link(handover_id: int) -> Any:
    _checked()
    h = db.session.get(Handover, handover_id) or abort(404)
    if h.state != HandoverState.ACTIVE.value:
        abort(409)
    handover.new_link(h)
    handover.deliver(db.session(), h, collecting.delivery())
    db.session.commit()
    flash(
        _("A new link is made (the old one no longer works) and sent the agency's way."), "success"
    )
    return redirect(url_for("admin.handover_detail", handover_id=h.id), 303)


@bp.post("/handovers/<int:handover_id>/recall")
@admin_required()
def handover_recall(handover_id: int) -> Any:
    _checked()
    h = db.session.get(Handover, handover_id) or abort(404)
    try:
        handover.recall(db.session(), h, request.form.get("reason", "")[:1000], actor())
    except Problem as exc:
        db.session.rollback()
        flash(_problem(exc), "error")
        return redirect(url_for("admin.handover_detail", handover_id=handover_id), 303)
    db.session.commit()
    flash(_("The claim is recalled; the agency is told why."), "success")
    return redirect(url_for("admin.handover_detail", handover_id=handover_id), 303)


# ----------------------------------------------------------------------- write-off
@bp.post("/invoices/<int:invoice_id>/write-off")
@admin_required(full_admin=True)
def invoice_write_off(invoice_id: int) -> Any:
    _checked()
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    try:
        cents = parse_amount(request.form.get("amount", ""))
        writeoff.write_off(
            db.session(),
            invoice,
            cents,
            request.form.get("reason", "")[:1000],
            actor(),
            runtime.business_today(),
        )
    except AmountError:
        db.session.rollback()
        flash(_("Type the amount to write off, e.g. 121,00."), "error")
        return redirect(url_for("admin.invoice_detail", invoice_id=invoice_id), 303)
    except Problem as exc:
        db.session.rollback()
        flash(_problem(exc), "error")
        return redirect(url_for("admin.invoice_detail", invoice_id=invoice_id), 303)
    db.session.commit()
    flash(_("Written off; the open amount is lower now."), "success")
    return redirect(url_for("admin.invoice_detail", invoice_id=invoice_id), 303)
