"""Magic-link login, the account chooser and logout."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal import debtor_session, tasks
from portal.db import db
from portal.debtor_session import debtor_required
from portal.domain import login as login_domain
from portal.extensions import limiter
from portal.forms import ChooseForm, ConfirmForm, LoginForm
from portal.htmx import redirect_to

bp = Blueprint("auth", __name__)


def _email_key() -> str:
    return "login-email:" + login_domain.normalize_email(request.form.get("email", ""))


def rate_limited_response() -> tuple[str, int]:
    """The login page again, with a friendly word instead of a bare 429."""
    return render_template("auth/login.html", form=LoginForm(), rate_limited=True), 429


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per 15 minutes", methods=["POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"], key_func=_email_key)
def login() -> Any:
    if request.method == "GET" and debtor_session.is_logged_in():
        return redirect(url_for("portal.overview"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("auth/login.html", form=form), status
    # the same step for known and unknown addresses: looking the address up, making the
    # token and writing the mail happen in the worker, so neither the answer nor its
    # timing tells who is a customer
    email = login_domain.normalize_email(form.email.data or "")
    tasks.send_login_link(email, request.remote_addr or "")
    return redirect_to(url_for("auth.link_sent"))


@bp.get("/login/sent")
def link_sent() -> str:
    return render_template("auth/link_sent.html")


@bp.get("/login/<token>")
def confirm(token: str) -> Any:
    """Show only a button: mail scanners open links, and a GET must not log in."""
    try:
        login_domain.check_token(db.session(), token)
    except login_domain.InvalidToken as exc:
        return _link_problem(exc)
    return render_template("auth/continue.html", form=ConfirmForm(), token=token)


@bp.post("/login/<token>")
def consume(token: str) -> Any:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("errors/csrf.html"), 400
    try:
        signed_in = login_domain.consume_token(db.session(), token)
    except login_domain.InvalidToken as exc:
        db.session.rollback()
        return _link_problem(exc)
    db.session.commit()
    debtors = signed_in.debtors
    if not debtors:  # the address was removed from every account since the mail went out
        return _link_problem(login_domain.InvalidToken(login_domain.TokenProblem.UNKNOWN))
    debtor_session.start([d.id for d in debtors], signed_in.email, signed_in.versions)
    if len(debtors) > 1:
        return redirect(url_for("auth.choose"), code=303)
    return redirect(url_for("portal.overview"), code=303)


def _link_problem(exc: login_domain.InvalidToken) -> tuple[str, int]:
    status = 404 if exc.problem == login_domain.TokenProblem.UNKNOWN else 410
    return render_template("auth/link_problem.html", problem=exc.problem, form=LoginForm()), status


@bp.route("/choose", methods=["GET", "POST"])
def choose() -> Any:
    """Pick one of the debtor accounts an address may open (accountants, families)."""
    allowed = debtor_session.allowed_ids()
    if not allowed or not debtor_session.is_logged_in():
        return redirect(url_for("auth.login"))
    form = ChooseForm()
    if form.validate_on_submit() and debtor_session.choose(form.debtor_id.data or 0):
        return redirect(url_for("portal.overview"), code=303)
    from portal.domain.debtors import accounts

    status = 422 if request.method == "POST" else 200
    return render_template("auth/choose.html", accounts=accounts(db.session(), allowed)), status


@bp.post("/logout")
def logout() -> Any:
    """End the session here and its copies; then the login page (a GET, so a reload works)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("errors/csrf.html"), 400
    debtor_session.sign_out()
    db.session.commit()
    flash(_("You are signed out. Thank you for your visit."), "success")
    return redirect(url_for("auth.login"), code=303)


@bp.post("/sign-out-everywhere")
@debtor_required
def sign_out_everywhere() -> Any:
    """End every session on this account, on every device, this one included."""
    if not ConfirmForm().validate_on_submit():
        return render_template("errors/csrf.html"), 400
    debtor = debtor_session.signed_in_debtor()
    debtor_session.sign_out_everywhere(debtor.id, f"debtor:{debtor.id}")
    db.session.commit()
    flash(_("You are signed out on every device. Ask for a new link to sign in again."), "success")
    return redirect(url_for("auth.login"), code=303)
