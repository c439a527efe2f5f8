"""The debtor's login session: which debtor accounts it may open, and idle timeout."""

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
from portal.models import Debtor

F = TypeVar("F", bound=Callable[..., Any])


def start(debtor_ids: list[int], email: str) -> None:
    """Begin a fresh session (new cookie contents) for these debtor accounts."""
    lang = session.get("lang")
    session.clear()
    session["debtor_ids"] = debtor_ids
    session["email"] = email
    session["seen"] = int(time.time())
    if len(debtor_ids) == 1:
        session["debtor_id"] = debtor_ids[0]
    if lang:
        session["lang"] = lang
    session.permanent = True


def end() -> None:
    """Log out: forget everything but the language choice."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def allowed_ids() -> list[int]:
    """Debtor accounts this session may open."""
    return [int(i) for i in session.get("debtor_ids", [])]


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
            return redirect(url_for("auth.login"))
        if current_debtor() is None:
            return redirect(url_for("auth.choose"))
        session["seen"] = int(time.time())
        return view(*args, **kwargs)

    return cast(F, wrapper)
