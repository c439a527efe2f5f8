"""The requests inbox: debtors' disputes, promises, questions and contact changes; assign,
answer by mail, decide; attachments are downloaded here only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NoReturn

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.plans import request_plan_form
from admin.session import actor, admin_required, current_admin
from admin.words import local_time
from portal import runtime
from portal.db import db
from portal.domain import requests as req
from portal.domain.money import AmountError, parse_amount
from portal.domain.params import whole
from portal.domain.plans import listing
from portal.domain.states import IllegalTransition
from portal.forms import ConfirmForm
from portal.i18n import message_text, request_state_label
from portal.mails import RequestMails
from portal.models import AdminUser, DebtorRequest, RequestAttachment


def _mails() -> RequestMails:
    return RequestMails(runtime.settings())


def _load(request_id: int) -> DebtorRequest:
    return db.session.get(DebtorRequest, request_id) or abort(404)


def _back(item: DebtorRequest) -> BaseResponse:
    return redirect(url_for("admin.request_detail", request_id=item.id), 303)


@bp.get("/requests")
@admin_required()
def request_inbox() -> str:
    flt = req.InboxFilter.parse(request.args.to_dict())
    admin = current_admin()
    assert admin is not None
    rows, has_next = req.inbox(db.session(), flt, admin.id)
    return render_template(
        "admin/requests.html",
        rows=rows,
        has_next=has_next,
        flt=flt,
        today=runtime.business_today(),
        now=dt.datetime.now(dt.UTC),
    )


@bp.get("/requests/<int:request_id>")
@admin_required()
def request_detail(request_id: int) -> str:
    item = _load(request_id)
    people = db.session.scalars(
        select(AdminUser).where(AdminUser.active.is_(True)).order_by(AdminUser.email)
    ).all()
    return render_template(
        "admin/request.html",
        item=item,
        people=people,
        form=ConfirmForm(),
        broken=req.broken_promise(item, runtime.business_today()),
        plans=listing.for_request(db.session(), item.id) if item.kind == "plan" else [],
        **(request_plan_form(item) if item.kind == "plan" and not item.closed else {}),
        today=runtime.business_today(),
    )


def _guard() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


@bp.post("/requests/<int:request_id>/assign")
@admin_required()
def request_assign(request_id: int) -> BaseResponse:
    _guard()
    item = _load(request_id)
    raw = request.form.get("admin_id", "")
    admin_id = whole(raw)
    if admin_id is not None and db.session.get(AdminUser, admin_id) is None:
        abort(400)
    req.assign(db.session(), item, admin_id, actor())
    db.session.commit()
    flash(_("Assigned."), "success")
    return _back(item)


def _refused(item: DebtorRequest, problem: req.RequestRefused) -> BaseResponse:
    db.session.rollback()
    flash(message_text(problem), "error")
    return _back(item)


@bp.post("/requests/<int:request_id>/reply")
@admin_required()
def request_reply(request_id: int) -> BaseResponse:
    _guard()
    item = _load(request_id)
    answer = request.form.get("answer", "")
    return _act(
        item,
        lambda: req.reply(db.session(), item, answer, actor(), _mails()),
        _("Answer sent."),
    )


def _act(item: DebtorRequest, change: Callable[[], object], done: str) -> BaseResponse:
    """Make `change`, commit, mail the debtor; a refusal is flashed. A request decided
    meanwhile (the domain locks it and reads it afresh) is a 409 that says by whom."""
    try:
        change()
    except req.RequestRefused as problem:
        return _refused(item, problem)
    except IllegalTransition:
        db.session.rollback()
        decided_elsewhere(item.id)
    db.session.commit()
    flash(done, "success")
    return _back(item)


OUTCOME_WORDS = {
    "credit": _l("credited"),
    "cancel": _l("invoice cancelled"),
    "uphold": _l("upheld"),
    "closed": _l("closed"),
}


def decided_elsewhere(request_id: int) -> NoReturn:
    """The 409 of the admin who lost a race: what the request is now, who decided, when."""
    item = _load(request_id)
    last = next((e for e in reversed(item.events) if e.action == "state"), None)
    who = last.actor if last is not None else ""
    if who.startswith("admin:") and who[6:].isdigit():
        person = db.session.get(AdminUser, int(who[6:]))
        who = person.email if person is not None else who
    state = request_state_label(item.state)
    if item.outcome in OUTCOME_WORDS:
        state = f"{state} ({OUTCOME_WORDS[item.outcome]})"
    abort(
        409,
        _(
            "Someone else just decided this: request #%(id)s is now %(state)s, by %(who)s"
            " at %(time)s. Your answer was not sent.",
            id=item.id,
            state=state,
            who=who or _("someone"),
            time=local_time(last.at if last is not None else item.closed_at),
        ),
    )


@bp.post("/requests/<int:request_id>/decide")
@admin_required()
def request_decide(request_id: int) -> Any:
    _guard()
    item = _load(request_id)
    answer = request.form.get("answer", "")
    outcome = request.form.get("outcome", "")

    def decide() -> None:
        if item.kind == "dispute":
            credit = 0
            if outcome == "credit":
                try:
                    credit = parse_amount(request.form.get("credit", ""))
                except AmountError:
                    credit = 0
            req.decide_dispute(
                db.session(),
                item,
                outcome,
                credit,
                answer,
                actor(),
                _mails(),
                runtime.business_today(),
            )
        else:
            req.close(
                db.session(), item, outcome, answer, actor(), _mails(), runtime.business_today()
            )

    return _act(item, decide, _("Decided; the customer gets your answer by email."))


@bp.get("/requests/<int:request_id>/attachments/<int:attachment_id>")
@admin_required()
def request_attachment(request_id: int, attachment_id: int) -> Response:
    file = db.session.scalars(
        select(RequestAttachment).where(
            RequestAttachment.id == attachment_id, RequestAttachment.request_id == request_id
        )
    ).first() or abort(404)
    response = Response(file.data, mimetype=file.mime)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in file.filename)
    # always a download, never shown inline: the file comes from outside
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
