"""The debtor's requests: dispute an invoice, promise to pay, ask a question, change contact
details, and see where each request stands. Every query filters on the debtor's id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from portal.db import db
from portal.debtor_session import debtor_required, signed_in_debtor
from portal.domain import invoices as inv
from portal.domain import requests as req
from portal.domain.plans import listing
from portal.extensions import limiter
from portal.forms import (
    ConfirmForm,
    ContactForm,
    DisputeForm,
    PromiseForm,
    QuestionForm,
    ReplyForm,
)
from portal.htmx import redirect_to
from portal.i18n import message_text
from portal.mails import RequestMails
from portal.models import DebtorRequest, Invoice
from portal.runtime import business_today, settings

bp = Blueprint("requests", __name__)


def _actor() -> str:
    return f"debtor:{signed_in_debtor().id}"


def _invoice(invoice_id: int) -> Invoice:
    return inv.get_for_debtor(db.session(), signed_in_debtor().id, invoice_id) or abort(404)


def _done(message: str) -> BaseResponse:
    from flask import flash

    flash(message, "success")
    return redirect_to(url_for("requests.my_requests"))


def _submit(make: Callable[[], DebtorRequest]) -> tuple[DebtorRequest | None, str]:
    """Make a request and commit: (the request, "") or (None, the refusal in words)."""
    try:
        made = make()
    except req.RequestRefused as refused:
        db.session.rollback()
        return None, message_text(refused)
    db.session.commit()
    return made, ""


def _read_upload() -> req.Upload | None:
    """The uploaded file, read no further than the size limit allows."""
    file = request.files.get("attachment")
    if file is None or not file.filename:
        return None
    data = file.stream.read(req.MAX_ATTACHMENT + 1)
    return req.Upload(filename=file.filename, data=data)


@bp.route("/invoices/<int:invoice_id>/dispute", methods=["GET", "POST"])
@debtor_required
def dispute(invoice_id: int) -> Any:
    invoice = _invoice(invoice_id)
    form = DisputeForm()
    error = ""
    if form.validate_on_submit():
        made, error = _submit(
            lambda: req.open_dispute(
                db.session(),
                invoice,
                form.reason.data or "",
                form.message.data or "",
                _read_upload(),
                _actor(),
                business_today(),
            )
        )
        if made and made.paused_itself:
            return _done(_("Thank you. Reminders for this invoice wait until we have answered."))
        if made:
            return _done(
                _(
                    "Thank you. This invoice was disputed before, so reminders continue until"
                    " we have looked at your dispute."
                )
            )
    status = 422 if request.method == "POST" else 200
    pauses = req.dispute_pauses(db.session(), invoice)
    return render_template(
        "requests/dispute.html", invoice=invoice, form=form, error=error, pauses=pauses
    ), status


@bp.route("/invoices/<int:invoice_id>/promise", methods=["GET", "POST"])
@debtor_required
def promise(invoice_id: int) -> Any:
    invoice = _invoice(invoice_id)
    form = PromiseForm()
    error = ""
    day = business_today()
    if form.validate_on_submit():
        made, error = _submit(
            lambda: req.promise(
                db.session(), invoice, form.pay_by.data, form.message.data or "", _actor(), day
            )
        )
        if made and made.paused_itself:
            return _done(_("Thank you. We will not send reminders for this invoice until then."))
        if made:
            return _done(
                _(
                    "Thank you. You have already postponed this invoice twice, so reminders"
                    " continue until we have looked at your promise."
                )
            )
    status = 422 if request.method == "POST" else 200
    latest = day + dt.timedelta(days=req.PROMISE_MAX_DAYS)
    return render_template(
        "requests/promise.html",
        invoice=invoice,
        form=form,
        error=error,
        first=day,
        last=latest,
        pauses=req.promise_pauses(db.session(), invoice),
    ), status


@bp.route("/requests/question", methods=["GET", "POST"])
@debtor_required
def question() -> Any:
    debtor = signed_in_debtor()
    form = QuestionForm()
    open_rows = inv.open_invoices(db.session(), debtor.id)
    form.invoice_id.choices = [SelectChoice("", _("No invoice in particular"))] + [
        SelectChoice(str(i.id), i.number) for i in open_rows
    ]
    if request.method == "GET" and request.args.get("invoice"):
        form.invoice_id.data = request.args["invoice"]
    error = ""
    if form.validate_on_submit():
        invoice = _invoice(int(form.invoice_id.data)) if form.invoice_id.data else None
        made, error = _submit(
            lambda: req.ask(db.session(), debtor.id, invoice, form.message.data or "", _actor())
        )
        if made:
            return _done(_("Thank you for your question. We answer by email."))
    status = 422 if request.method == "POST" else 200
    return render_template("requests/question.html", form=form, error=error), status


def _debtor_key() -> str:
    return f"contact-change:{signed_in_debtor().id}"


@bp.route("/requests/contact", methods=["GET", "POST"])
@debtor_required
# each change may mail a confirmation to an address the debtor typed: keep that rare
@limiter.limit("5 per hour", methods=["POST"], key_func=_debtor_key)
def contact() -> Any:
    debtor = signed_in_debtor()
    form = ContactForm()
    error = ""
    if form.validate_on_submit():
        wanted = {k: (getattr(form, k).data or "") for k in req.CONTACT_FIELDS}
        changed, error = _submit(
            lambda: req.change_contact(
                db.session(),
                debtor.id,
                wanted,
                form.message.data or "",
                _actor(),
                RequestMails(settings()),
            )
        )
        if changed:
            if "email" in changed.details:
                return _done(
                    _(
                        "We sent a link to %(email)s. Your new address counts once you open it.",
                        email=changed.details["email"],
                    )
                )
            return _done(_("Your contact details are changed."))
    status = 422 if request.method == "POST" else 200
    return render_template("requests/contact.html", form=form, error=error, debtor=debtor), status


@bp.get("/requests")
@debtor_required
def my_requests() -> str:
    rows = req.for_debtor(db.session(), signed_in_debtor().id)
    plans = listing.plans_of(db.session(), signed_in_debtor().id)
    return render_template("requests/list.html", rows=rows, plans=plans)


@bp.route("/requests/<int:request_id>", methods=["GET", "POST"])
@debtor_required
def request_detail(request_id: int) -> Any:
    """One request as a conversation; the debtor can reply while it is not closed."""
    item = req.get_for_debtor(db.session(), signed_in_debtor().id, request_id) or abort(404)
    form = ReplyForm()
    error = ""
    if form.validate_on_submit():
        try:
            req.debtor_reply(db.session(), item, form.message.data or "", _actor())
        except req.RequestRefused as refused:
            db.session.rollback()
            error = message_text(refused)
        else:
            db.session.commit()
            flash(_("Thank you. We have your reply and answer by email and here."), "success")
            return redirect(url_for("requests.request_detail", request_id=request_id), code=303)
        item = req.get_for_debtor(db.session(), signed_in_debtor().id, request_id) or abort(404)
    status = 422 if request.method == "POST" else 200
    note = req.credit_note_of(db.session(), item)
    return render_template(
        "requests/detail.html", item=item, form=form, error=error, credit_note=note
    ), status


@bp.get("/contact/confirm/<token>")
def confirm_email_page(token: str) -> Any:
    """Mail scanners open links too: a GET only shows a button, the POST confirms."""
    found = req.find_email_token(db.session(), token)
    if found is None:
        return render_template("requests/confirm.html", invalid=True), 410
    return render_template("requests/confirm.html", form=ConfirmForm(), email=found.email)


@bp.post("/contact/confirm/<token>")
def confirm_email(token: str) -> Any:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    done = req.confirm_email(db.session(), token, RequestMails(settings()))
    if done is None:
        db.session.rollback()
        return render_template("requests/confirm.html", invalid=True), 410
    db.session.commit()  # the old address is told (dispatch.py wakes the worker)
    return render_template("requests/confirm.html", confirmed=True)
