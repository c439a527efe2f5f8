"""Admin actions on reminders: pause and resume an invoice, mark a debtor do-not-contact."""

from __future__ import annotations

import datetime as dt

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.session import actor, admin_required
from portal import tasks
from portal.db import db
from portal.domain.clock import today
from portal.domain.dunning import engine, holds
from portal.forms import ConfirmForm
from portal.mails import ReminderMails
from portal.models import Debtor, Invoice

SEND_REFUSALS = {
    "not_open": _l("Only an open invoice gets reminders."),
    "unknown_step": _l("Choose a step of this debtor's schedule."),
    "already_sent": _l("This step was sent for this invoice before; it is not sent twice."),
    "no_address": _l("The debtor has no email address."),
}


def _back(invoice: Invoice) -> BaseResponse:
    return redirect(url_for("admin.invoice_detail", invoice_id=invoice.id) + "#reminders", 303)


@bp.post("/invoices/<int:invoice_id>/hold")
@admin_required()
def invoice_hold(invoice_id: int) -> BaseResponse:
    """Pause the invoice's reminders with a reason, until a date or until resumed."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    raw_until = request.form.get("until", "").strip()
    try:
        until = dt.date.fromisoformat(raw_until) if raw_until else None
        day = today(current_app.config["SETTINGS"].portal_timezone)
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
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
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
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    raw = request.form.get("step_id", "")
    settings = current_app.config["SETTINGS"]
    try:
        engine.send_now(
            db.session(),
            invoice,
            int(raw) if raw.isdigit() else 0,
            ReminderMails(settings),
            today(settings.portal_timezone),
            actor(),
            link_days=settings.pay_link_days,
        )
    except engine.SendRefused as exc:
        db.session.rollback()
        flash(SEND_REFUSALS.get(exc.reason, _("This step cannot be sent.")), "error")
        return _back(invoice)
    db.session.commit()
    tasks.send_outbox()
    flash(_("The step was sent."), "success")
    return _back(invoice)


@bp.post("/debtors/<int:debtor_id>/contact")
@admin_required()
def debtor_contact(debtor_id: int) -> BaseResponse:
    """Mark or unmark a debtor whom no reminder may reach."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    debtor = db.session.get(Debtor, debtor_id) or abort(404)
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
