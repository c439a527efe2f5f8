"""Admin pages: login with optional TOTP, dashboard, outbox viewer, users."""

from __future__ import annotations

import datetime as dt
from typing import Any

import segno
from flask import (
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, select

from admin import bp
from admin.forms import AdminLoginForm, ForgotForm, NewUserForm, ResetForm, TotpForm
from admin.session import (
    actor,
    admin_required,
    await_totp,
    current_admin,
    log_in,
    log_out,
    pending_totp_user,
    refresh,
)
from portal import runtime, tasks
from portal.db import db
from portal.domain import admins, audit
from portal.domain import dashboard as figures
from portal.domain.messaging import outbox as outbox_actions
from portal.domain.params import page_number
from portal.extensions import limiter
from portal.forms import ConfirmForm
from portal.htmx import sandboxed_html
from portal.models import AdminUser, AuditEvent, OutboxMessage, utcnow

OUTBOX_PAGE = 50
OUTBOX_STATUSES = ("doubt", "pending", "sending", "sent", "local", "failed", "dropped", "cancelled")


def _login_email_key() -> str:
    return "admin-login:" + request.form.get("email", "").strip().lower()


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.dashboard")


@bp.after_request
def _slide_idle_timeout(response: Response) -> Response:
    refresh(response)
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"], key_func=_login_email_key)
def login() -> Any:
    form = AdminLoginForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("admin/login.html", form=form), status
    result = admins.check_password(
        db.session(), form.email.data or "", form.password.data or "", ip=request.remote_addr or ""
    )
    db.session.commit()
    if result.outcome == admins.LoginOutcome.LOCKED:
        return render_template("admin/login.html", form=form, locked=result.locked_until), 429
    if result.outcome == admins.LoginOutcome.INVALID or result.user is None:
        return render_template("admin/login.html", form=form, invalid=True), 422
    target = _safe_next(request.args.get("next"))
    if result.outcome == admins.LoginOutcome.NEEDS_TOTP:
        response = redirect(url_for("admin.login_totp", next=target), code=303)
        return await_totp(response, result.user)
    return log_in(redirect(target, code=303), result.user)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"])
def login_totp() -> Any:
    user = pending_totp_user()
    if user is None:
        return redirect(url_for("admin.login"))
    form = TotpForm()
    if form.validate_on_submit():
        ok = admins.check_totp(
            db.session(), user, form.code.data or "", ip=request.remote_addr or ""
        )
        db.session.commit()
        if ok:
            return log_in(redirect(_safe_next(request.args.get("next")), code=303), user)
        form.code.errors = [_("That code is not right. Codes change every 30 seconds.")]
    status = 422 if request.method == "POST" else 200
    return render_template("admin/login_totp.html", form=form), status


@bp.post("/logout")
@admin_required()
def logout() -> Any:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = current_admin()
    assert user is not None
    user.session_version += 1  # a copied cookie stops working too (signs out every device)
    audit.record(db.session(), actor(), "admin.logout")
    db.session.commit()
    return log_out(redirect(url_for("admin.login"), code=303))


PREVIEW_FRESH = dt.timedelta(minutes=15)


@bp.get("/")
@admin_required()
def dashboard() -> str:
    day = runtime.business_today()
    outbox_counts = dict(
        db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    from portal.domain import requests
    from portal.domain.dunning import charges, interest
    from portal.domain.dunning import engine as dunning
    from portal.domain.plans import listing

    tomorrow = day + dt.timedelta(days=1)
    counted = dunning.stored_preview(db.session(), tomorrow)
    if counted is None:  # the first view of the day: count now (the worker keeps it fresh)
        counted = dunning.count_and_store(db.session(), tomorrow, utcnow())
        db.session.commit()
    elif counted.computed_at < utcnow() - PREVIEW_FRESH:
        tasks.count_tomorrow()  # the worker counts again; these figures show meanwhile
    return render_template(
        "admin/dashboard.html",
        brands=figures.totals(db.session(), "brand", day),
        segments=figures.totals(db.session(), "segment", day),
        outbox_counts=outbox_counts,
        next_run=counted.preview,
        counted_at=counted.computed_at,
        tomorrow=tomorrow,
        missing_rates=interest.missing_half_years(db.session(), day),
        waiting_rates=charges.waiting_rates(db.session()),
        undelivered=charges.undelivered_claims(db.session()),
        request_counts=requests.open_counts(db.session()),
        plan_counts=listing.counts(db.session(), utcnow() - dt.timedelta(days=30)),
        health=figures.health(db.session(), utcnow(), runtime.settings().morning_run_utc),
        form=ConfirmForm(),
    )


@bp.get("/outbox")
@admin_required(full_admin=True)  # mails hold what only their reader should see
def outbox() -> str:
    status = request.args.get("status", "")
    page = page_number(request.args.get("page", "1"))
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status in OUTBOX_STATUSES:
        stmt = stmt.where(OutboxMessage.status == status)
    messages = list(
        db.session.scalars(stmt.limit(OUTBOX_PAGE + 1).offset((page - 1) * OUTBOX_PAGE))
    )
    return render_template(
        "admin/outbox.html",
        messages=messages[:OUTBOX_PAGE],
        has_next=len(messages) > OUTBOX_PAGE,
        page=page,
        status=status,
        statuses=OUTBOX_STATUSES,
        smtp=bool(runtime.settings().smtp_url),
        form=ConfirmForm(),
    )


@bp.get("/outbox/<int:message_id>")
@admin_required(full_admin=True)  # mails hold what only their reader should see
def outbox_message(message_id: int) -> str:
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    return render_template(
        "admin/outbox_message.html",
        message=message,
        message_id=outbox_actions.message_id(message),
        form=ConfirmForm(),
        allowed=[
            action
            for action, statuses in outbox_actions.DOUBT_ACTIONS.items()
            if message.status in statuses
        ],
    )


@bp.get("/outbox/<int:message_id>/html")
@admin_required(full_admin=True)  # mails hold what only their reader should see
def outbox_message_html(message_id: int) -> Response:
    """The mail's HTML, sandboxed: no scripts, no requests out, framed only by our page."""
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    return sandboxed_html(message.body_html or "<p>(no HTML part)</p>")


@bp.get("/users")
@admin_required(full_admin=True)
def users() -> str:
    people = list(db.session.scalars(select(AdminUser).order_by(AdminUser.email)))
    return render_template("admin/users.html", users=people, form=NewUserForm())


@bp.post("/users")
@admin_required(full_admin=True)
def create_user() -> Any:
    form = NewUserForm()
    error = None
    if form.validate_on_submit():
        try:
            admins.create_admin(
                db.session(),
                form.email.data or "",
                form.password.data or "",
                role=form.role.data or "clerk",
                name=form.name.data or "",
                by=actor(),
            )
        except admins.AdminError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            return redirect(url_for("admin.users"), code=303)
    people = list(db.session.scalars(select(AdminUser).order_by(AdminUser.email)))
    return render_template("admin/users.html", users=people, form=form, error=error), 422


@bp.post("/users/<int:user_id>/<any(activate, deactivate, make_admin, make_clerk):change>")
@admin_required(full_admin=True)
def change_user(user_id: int, change: str) -> Any:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = db.session.get(AdminUser, user_id) or abort(404)
    me = current_admin()
    assert me is not None
    try:
        if change in ("activate", "deactivate"):
            admins.set_active(db.session(), user, change == "activate", by=me)
        else:
            admins.set_role(db.session(), user, change.removeprefix("make_"), by=me)
    except admins.AdminError as exc:
        db.session.rollback()
        abort(409, str(exc))
    db.session.commit()
    return redirect(url_for("admin.users"), code=303)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@admin_required()
def two_factor() -> Any:
    """Enrol an authenticator app: scan the QR code, confirm with a code."""
    user = current_admin()
    assert user is not None
    form = TotpForm()
    if not user.totp_enabled and form.validate_on_submit():
        if admins.enable_totp(db.session(), user, form.code.data or ""):
            db.session.commit()
            return log_in(redirect(url_for("admin.two_factor"), code=303), user)
        form.code.errors = [_("That code is not right. Codes change every 30 seconds.")]
    secret = "" if user.totp_enabled else admins.pending_totp_secret(user)
    db.session.commit()  # the pending secret, made on the first view
    qr = ""
    if secret:
        qr = segno.make(admins.totp_uri(user, secret), error="m").svg_data_uri(scale=5)
    status = 422 if form.errors else 200
    return render_template(
        "admin/two_factor.html", user=user, form=form, qr=qr, secret=secret
    ), status


@bp.get("/audit")
@admin_required(full_admin=True)
def audit_log() -> str:
    events = list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor.startswith("admin:") | (AuditEvent.actor == "cli"))
            .order_by(AuditEvent.id.desc())
            .limit(200)
        )
    )
    return render_template("admin/audit.html", events=events)


def _reset_email_key() -> str:
    return "admin-reset:" + request.form.get("email", "").strip().lower()


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"])
@limiter.limit("3 per 15 minutes", methods=["POST"], key_func=_reset_email_key)
def forgot_password() -> Any:
    """Ask for a reset link; the answer is the same for unknown addresses."""
    form = ForgotForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("admin/forgot.html", form=form), status
    from portal import tasks

    # the same step for known and unknown addresses (the worker looks the address up), so
    # neither the answer nor its timing tells who has an account
    tasks.send_admin_reset(form.email.data or "")
    return render_template("admin/forgot.html", form=form, sent=True)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"])
def reset_password(token: str) -> Any:
    """Choose a new password; opening the link (GET) does not use it up."""
    form = ResetForm()
    if not admins.reset_token_valid(db.session(), token):
        return render_template("admin/reset.html", form=form, invalid=True), 410
    error = None
    if form.validate_on_submit():
        if form.password.data != form.confirm.data:
            error = _("The two passwords differ.")
        else:
            try:
                admins.reset_password(db.session(), token, form.password.data or "")
            except admins.AdminError as exc:
                db.session.rollback()
                error = str(exc)
            else:
                db.session.commit()
                return redirect(url_for("admin.login", reset=1), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/reset.html", form=form, error=error), status
