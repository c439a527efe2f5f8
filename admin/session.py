"""The admin session: its own signed cookie on /admin, apart from any debtor session."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import abort, current_app, g, redirect, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from portal import errors, runtime
from portal.db import db
from portal.models import AdminUser

COOKIE = "bp_admin"
MAX_AGE = 12 * 3600  # a working day, then log in again
PENDING_TOTP_SECONDS = 300
F = TypeVar("F", bound=Callable[..., Any])


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="betaalportaal-admin")


def _idle_seconds() -> int:
    return int(runtime.settings().session_idle_minutes) * 60


def _read() -> dict[str, Any]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer().loads(raw, max_age=MAX_AGE)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def _write(response: Response, data: dict[str, Any] | None) -> Response:
    if data is None:
        response.delete_cookie(COOKIE, path="/admin")
        return response
    response.set_cookie(
        COOKIE,
        _serializer().dumps(data),
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=runtime.settings().https,
    )
    return response


def log_in(response: Response, user: AdminUser) -> Response:
    """Give the browser a fresh admin session for `user`."""
    return _write(response, {"uid": user.id, "v": user.session_version, "seen": int(time.time())})


def await_totp(response: Response, user: AdminUser) -> Response:
    """Password was right; remember who still owes the authenticator code."""
    return _write(response, {"pending": user.id, "v": user.session_version, "at": int(time.time())})


def pending_totp_user() -> AdminUser | None:
    """The account halfway through login, if the code is still owed (5 minutes)."""
    data = _read()
    if not data.get("pending") or int(time.time()) - int(data.get("at", 0)) > PENDING_TOTP_SECONDS:
        return None
    user = db.session.get(AdminUser, int(data["pending"]))
    if user is None or not user.active or user.session_version != data.get("v"):
        return None
    return user


def log_out(response: Response) -> Response:
    return _write(response, None)


def current_admin() -> AdminUser | None:
    """The logged-in admin for this request (active, same session version, not idle); never
    read after the request failed."""
    if "admin" not in g:
        if errors.session_failed():
            return None
        data = _read()
        user = None
        if data.get("uid") and int(time.time()) - int(data.get("seen", 0)) <= _idle_seconds():
            candidate = db.session.get(AdminUser, int(data["uid"]))
            if candidate and candidate.active and candidate.session_version == data.get("v"):
                user = candidate
        g.admin = user
    return cast(AdminUser | None, g.admin)


def refresh(response: Response) -> Response:
    """Slide the idle timeout forward on every admin page that was served (not on an error
    page of a failed request: the cookie stays as it was, and the session is not read)."""
    if errors.session_failed():
        return response
    user = g.get("admin")
    already = any(c.startswith(f"{COOKIE}=") for c in response.headers.getlist("Set-Cookie"))
    if user is not None and request.cookies.get(COOKIE) and not already:
        data = _read()
        if data.get("uid") == user.id:
            data["seen"] = int(time.time())
            _write(response, data)
    return response


def admin_required(*, full_admin: bool = False) -> Callable[[F], F]:
    """Only for logged-in admins; `full_admin` keeps clerks out (403)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_admin()
            if user is None:
                return redirect(url_for("admin.login", next=request.full_path))
            if full_admin and not user.is_admin:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def actor() -> str:
    """The audit log's name for the current admin."""
    user = current_admin()
    return f"admin:{user.id}" if user else "admin:?"
