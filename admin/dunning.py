"""Admin actions on reminders: pause and resume an invoice, mark a debtor do-not-contact."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.session import actor, admin_required
from portal import runtime, tasks
from portal.db import db
from portal.domain.dunning import engine, holds, interest, schedules
from portal.domain.money import AmountError, parse_amount
from portal.domain.params import whole
from portal.forms import ConfirmForm
from portal.i18n import message_text, send_rule_label
from portal.mails import ReminderMails
from portal.models import (
    CHANNELS,
    FEE_RULES,
    STEP_KINDS,
    Claim,
    Debtor,
    Invoice,
    ReminderSchedule,
)

SEND_REFUSALS = {
    "not_open": _l("Only an open invoice gets reminders."),
    "unknown_step": _l("Choose a step of this debtor's schedule."),
    "already_sent": _l("This step was sent for this invoice before; it is not sent twice."),
    "no_address": _l("No channel of this step reaches the debtor (email, phone, postal address)."),
}
OVERRIDE_HINT = _l(
    "The daily run would not send it: %(rule)s. To send it anyway, give the reason in"
    " \u201cOverride\u201d; it is kept in the audit log and on the invoice's history."
)


def _locked_invoice(invoice_id: int) -> Invoice:
    """The invoice under its row lock (SQLite: the transaction began IMMEDIATE): two
    admins acting on it at once take turns, the second seeing the first one's change."""
    return db.session.get(Invoice, invoice_id, with_for_update=True) or abort(404)


def _back(invoice: Invoice) -> BaseResponse:
    return redirect(url_for("admin.invoice_detail", invoice_id=invoice.id) + "#reminders", 303)


@bp.post("/invoices/<int:invoice_id>/hold")
@admin_required()
def invoice_hold(invoice_id: int) -> BaseResponse:
    """Pause the invoice's reminders with a reason, until a date or until resumed."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invoice = _locked_invoice(invoice_id)
    raw_until = request.form.get("until", "").strip()
    try:
        until = dt.date.fromisoformat(raw_until) if raw_until else None
        day = runtime.business_today()
        holds.pause(db.session(), invoice, request.form.get("reason", ""), until, actor(), day)
    except (ValueError, holds.HoldRefused):
        flash(_("Choose a reason and, if you like, a date from today on."), "error")
        return _back(invoice)
    db.session.commit()
    flash(_("Reminders for this invoice are paused."), "success")
    return _back(invoice)


@bp.post("/invoices/<int:invoice_id>/resume")
@admin_required()
def invoice_resume(invoice_id: int) -> BaseResponse:
    """Let the invoice's reminders continue where they stopped."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invoice = _locked_invoice(invoice_id)
    holds.resume(db.session(), invoice, actor())
    db.session.commit()
    flash(_("Reminders for this invoice continue."), "success")
    return _back(invoice)


@bp.post("/invoices/<int:invoice_id>/send-step")
@admin_required()
def invoice_send_step(invoice_id: int) -> BaseResponse:
    """Send one step of the invoice's schedule now."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invoice = _locked_invoice(invoice_id)
    raw = request.form.get("step_id", "")
    settings = runtime.settings()
    try:
        engine.send_now(
            db.session(),
            invoice,
            whole(raw) or 0,
            ReminderMails(settings),
            runtime.business_today(),
            actor(),
            override=request.form.get("override", ""),
        )
    except engine.SendRefused as exc:
        db.session.rollback()
        if exc.overridable:
            flash(OVERRIDE_HINT % {"rule": send_rule_label(exc.reason)}, "error")
        else:
            flash(SEND_REFUSALS.get(exc.reason, _("This step cannot be sent.")), "error")
        return _back(invoice)
    db.session.commit()
    flash(_("The step was sent."), "success")
    return _back(invoice)


@bp.post("/claims/<int:claim_id>/post")
@admin_required()
def claim_post(claim_id: int) -> BaseResponse:
    """Send a step whose messages all bounced again, as a letter for the print batch."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    claim = db.session.get(Claim, claim_id) or abort(404)
    invoice_id = whole(request.form.get("invoice_id", ""))
    settings = runtime.settings()
    try:
        engine.resend_by_post(
            db.session(), claim, ReminderMails(settings), runtime.business_today(), actor()
        )
    except engine.SendRefused as exc:
        db.session.rollback()
        flash(
            _("The debtor has no postal address; add one first.")
            if exc.reason == "no_postal_address"
            else _("This letter does not need to be sent again."),
            "error",
        )
    else:
        db.session.commit()
        flash(_("The letter waits under Letters for the next print batch."), "success")
    if invoice_id:
        return redirect(url_for("admin.invoice_detail", invoice_id=invoice_id) + "#reminders", 303)
    return redirect(url_for("admin.dashboard"), 303)


@bp.post("/debtors/<int:debtor_id>/contact")
@admin_required()
def debtor_contact(debtor_id: int) -> BaseResponse:
    """Mark or unmark a debtor whom no reminder may reach."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    debtor = db.session.get(Debtor, debtor_id, with_for_update=True) or abort(404)
    value = request.form.get("do_not_contact") == "1"
    holds.set_do_not_contact(db.session(), debtor, value, actor())
    db.session.commit()
    flash(
        _("No reminders will reach this debtor.")
        if value
        else _("Reminders may reach this debtor again."),
        "success",
    )
    return redirect(url_for("admin.debtor_detail", debtor_id=debtor.id), 303)


def _step_rows(form: Any) -> list[schedules.StepInput]:
    """The step table of the form: steps-<n>-offset, -kind, -fee, -min_open, -delete, -id,
    and -channel (one value per ticked channel)."""
    rows = []
    for n in range(int(form.get("rows", "0") or 0)):
        prefix = f"steps-{n}-"
        offset = form.get(prefix + "offset", "").strip()
        if not offset:
            continue  # an empty extra row
        raw_min = form.get(prefix + "min_open", "").strip() or "0"
        raw_id = form.get(prefix + "id", "")
        rows.append(
            schedules.StepInput(
                step_id=whole(raw_id),
                offset_days=int(offset),
                kind=form.get(prefix + "kind", ""),
                fee_rule=form.get(prefix + "fee", "none"),
                min_open_cents=parse_amount(raw_min),
                delete=form.get(prefix + "delete") == "1",
                channels=tuple(form.getlist(prefix + "channel")),
            )
        )
    return rows


@bp.get("/schedules")
@admin_required(full_admin=True)
def schedule_list() -> str:
    """Every reminder schedule with its steps, editable."""
    return _schedules_page()


def _schedules_page(problem: str = "", status: int = 200) -> Any:
    rows = list(db.session.scalars(select(ReminderSchedule).order_by(ReminderSchedule.id)))
    return render_template(
        "admin/schedules.html",
        schedules=rows,
        kinds=STEP_KINDS,
        fee_rules=FEE_RULES,
        channels=CHANNELS,
        problem=problem,
    ), status


@bp.post("/schedules/<int:schedule_id>")
@admin_required(full_admin=True)
def schedule_save(schedule_id: int) -> Any:
    """Save a schedule's steps and gap; the page says what rule an edit would break."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    schedule = db.session.get(ReminderSchedule, schedule_id) or abort(404)
    try:
        steps = _step_rows(request.form)
        gap = request.form.get("min_gap_days", "7")
        if not gap.isdigit() or not 0 <= int(gap) <= 90:
            raise schedules.ScheduleProblem(schedules.GAP_RULE)
        schedule.min_gap_days = int(gap)
        schedule.sms_daytime_only = request.form.get("sms_daytime_only") == "1"
        schedule.business_days_only = request.form.get("business_days_only") == "1"
        schedules.save(db.session(), schedule, steps, actor())
    except (ValueError, AmountError) as exc:
        db.session.rollback()
        text = (
            message_text(exc)
            if isinstance(exc, schedules.ScheduleProblem)
            else _("Days are whole numbers; amounts look like 25,00.")
        )
        return _schedules_page(text, 422)
    db.session.commit()
    flash(_("Schedule %(name)s saved.", name=schedule.name), "success")
    return redirect(url_for("admin.schedule_list") + f"#schedule-{schedule.id}", 303)


@bp.post("/schedules")
@admin_required(full_admin=True)
def schedule_copy() -> Any:
    """A new schedule, copied from an existing one, to shape for a segment."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    raw = request.form.get("source", "")
    source = db.session.get(ReminderSchedule, whole(raw) or 0)
    if source is None:
        abort(400)
    try:
        created = schedules.copy_schedule(
            db.session(), source, request.form.get("name", ""), actor()
        )
    except schedules.ScheduleProblem as exc:
        db.session.rollback()
        return _schedules_page(message_text(exc), 422)
    db.session.commit()
    flash(_("Schedule %(name)s created.", name=created.name), "success")
    return redirect(url_for("admin.schedule_list") + f"#schedule-{created.id}", 303)


@bp.get("/interest-rates")
@admin_required(full_admin=True)
def interest_rates() -> str:
    """The statutory interest table, and a form for the next half-year."""
    return _rates_page()


def _rates_page(problem: str = "", status: int = 200) -> Any:
    session = db.session()
    day = runtime.business_today()
    page = render_template(
        "admin/interest_rates.html",
        tables={
            kind: sorted(interest.rates(session, kind).items(), reverse=True)
            for kind in interest.KINDS
        },
        missing=interest.missing_half_years(session, day),
        problem=problem,
        form=request.form,
    )
    return (page, status) if status != 200 else page


@bp.post("/interest-rates")
@admin_required(full_admin=True)
def interest_rate_add() -> Any:
    """Add the rate of a half-year; rates already stored are never changed."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        valid_from = dt.date.fromisoformat(request.form.get("valid_from", ""))
        basis_points = parse_amount(request.form.get("percent", ""))
    except (ValueError, AmountError):
        return _rates_page(_("Enter the first day of the half-year and a percentage."), 422)
    try:
        interest.add_rate(
            db.session(), request.form.get("kind", ""), valid_from, basis_points, actor()
        )
    except interest.RateRefused as exc:
        db.session.rollback()
        return _rates_page(message_text(exc.problem), 422)
    db.session.commit()
    flash(_("The rate is stored."), "success")
    return redirect(url_for("admin.interest_rates"), 303)


@bp.post("/dunning/run-now")
@admin_required(full_admin=True)
def dunning_run_now() -> BaseResponse:
    """Start the morning run (payment plans, then reminders) when it did not run or its
    worker died; what was sent already is not sent again."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    from portal.domain import audit

    audit.record(db.session(), actor(), "admin.morning_run_started")
    db.session.commit()
    tasks.dunning_daily()
    flash(_("The morning run is started; the worker sends what is due."), "success")
    return redirect(url_for("admin.dashboard"), 303)
