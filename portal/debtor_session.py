"""The debtor's login session: which debtor accounts it may open, idle timeout, and the
server-side version that lets logout, "sign out everywhere" and an email change end it
(copied cookies included)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal import errors
from portal.db import db
from portal.domain import login
from portal.models import Debtor

F = TypeVar("F", bound=Callable[..., Any])


def start(debtor_ids: list[int], email: str, versions: dict[int, int]) -> None:
    """Begin a fresh session (new cookie contents) for these debtor accounts, opened with
    `email`; `versions` are the (address, account) session versions it is valid for."""
    lang = session.get("lang")
    session.clear()
    g.pop("session_debtor_ids", None)
    session["debtor_ids"] = debtor_ids
    session["email"] = email
    session["versions"] = [versions.get(i, 0) for i in debtor_ids]
    session["seen"] = int(time.time())
    if len(debtor_ids) == 1:
        session["debtor_id"] = debtor_ids[0]
    if lang:
        session["lang"] = lang
    session.permanent = True


def end() -> None:
    """Forget everything in this browser's cookie but the language choice (the server-side
    versions end copies of it: see `sign_out`)."""
    lang = session.get("lang")
    session.clear()
    g.pop("session_debtor_ids", None)
    g.pop("debtor", None)
    if lang:
        session["lang"] = lang


def sign_out() -> None:
    """Logout: end this address's sessions on these accounts, on every device, then this
    cookie (the caller commits)."""
    login.sign_out(db.session(), str(session.get("email", "")), allowed_ids())
    end()


def sign_out_everywhere(debtor_id: int, actor: str) -> None:
    """End every session that can open this account, whoever opened it and on whatever
    device, this one included (the caller commits)."""
    login.end_all_sessions(db.session(), [debtor_id], actor, "signed out everywhere")
    end()


def allowed_ids() -> list[int]:
    """Debtor accounts this session may open; none once a version it carries was raised
    (the session then ends)."""
    if "session_debtor_ids" not in g:
        g.session_debtor_ids = _checked_ids()
    return list(g.session_debtor_ids)


def _checked_ids() -> list[int]:
    ids = [int(i) for i in session.get("debtor_ids", [])]
    if not ids:
        return []
    carried = session.get("versions")
    current = login.session_versions(db.session(), str(session.get("email", "")), ids)
    if not isinstance(carried, list) or [current.get(i) for i in ids] != carried:
        end()
        g.session_ended = True
        return []
    return ids


def choose(debtor_id: int) -> bool:
    """Switch to one of the allowed debtor accounts."""
    if debtor_id not in allowed_ids():
        return False
    session["debtor_id"] = debtor_id
    return True


def is_logged_in() -> bool:
    return bool(allowed_ids()) and not _idle_expired()


def current_debtor() -> Debtor | None:
    """The debtor account in use, loaded once per request (never after the request failed:
    error pages render from what was loaded before)."""
    if "debtor" not in g:
        if errors.session_failed():
            return None
        debtor_id = session.get("debtor_id")
        debtor = None
        if debtor_id in allowed_ids():
            debtor = db.session.scalars(select(Debtor).where(Debtor.id == debtor_id)).first()
        g.debtor = debtor
        if debtor is not None:
            g.debtor_language = debtor.language
    return cast(Debtor | None, g.debtor)


def _idle_expired() -> bool:
    seen = session.get("seen", 0)
    idle = current_app.config["SETTINGS"].session_idle_minutes * 60
    return int(time.time()) - int(seen) > idle


def signed_in_debtor() -> Debtor:
    """The debtor of a view behind `debtor_required` (never None there)."""
    debtor = current_debtor()
    assert debtor is not None  # guaranteed by @debtor_required
    return debtor


def debtor_required(view: F) -> F:
    """Let the view run only for a logged-in debtor who has chosen an account."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if session.get("debtor_ids") and _idle_expired():
            end()
            flash(_("You were signed out after 30 minutes without activity."), "info")
            return redirect(url_for("auth.login", next=request.full_path))
        if not allowed_ids():
            if g.get("session_ended"):
                flash(_("You were signed out. Ask for a new sign-in link."), "info")
            return redirect(url_for("auth.login"))
        if current_debtor() is None:
            return redirect(url_for("auth.choose"))
        session["seen"] = int(time.time())
        return view(*args, **kwargs)

    return cast(F, wrapper)
