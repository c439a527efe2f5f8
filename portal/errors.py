"""Error pages, including the ones that must work when nothing else does.

A 500 (a bug) or 503 (the database cannot be reached) is rendered without the database:
the language comes from the session, the browser or the default, the brand only from
what this request had already loaded, and pages under /admin get the admin's look. Once
a request failed, `g.db_failed` is set and no template helper or request hook reads the
session again (`portal.debtor_session.current_debtor`, `admin.session.current_admin`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30

# the last resort when even the error template fails: plain HTML, three languages
FALLBACK = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Betaalportaal</title></head>
<body><main>
<h1>Er ging iets mis · Something went wrong · Un problème est survenu</h1>
<p>Probeer het over een minuut opnieuw. · Please try again in a minute.
 · Veuillez réessayer dans une minute.</p>
</main></body></html>"""


# SQLite raises OperationalError for its own bugs too ("no such table", syntax errors);
# only these mean the file cannot be used right now
_SQLITE_DOWN = ("database is locked", "unable to open", "disk i/o error", "readonly database")


def database_down(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (a 503, not a bug)."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError) and type(exc.orig).__module__ == "sqlite3":
        return any(part in str(exc.orig).lower() for part in _SQLITE_DOWN)
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)


def session_failed() -> bool:
    """True once this request failed: helpers must not read the database any more."""
    return bool(g.get("db_failed"))


def _loaded(obj: object, name: str) -> Any:
    """An attribute only when it is already loaded (never a query)."""
    return vars(obj).get(name) if obj is not None else None


def _brand_from_request() -> dict[str, str] | None:
    """The brand of the debtor this request already loaded, as plain values."""
    brand = _loaded(g.get("debtor"), "brand")
    name = _loaded(brand, "name")
    if not name:
        return None
    return {"name": str(name), "support_email": str(_loaded(brand, "support_email") or "")}


def failure_page(code: int) -> Response:
    """The 500 or 503 page, rendered without the database (and plain HTML if even that
    fails)."""
    g.db_failed = True
    admin = request.path.startswith("/admin")
    try:
        html = render_template(
            "admin/failure.html" if admin else "errors/failure.html",
            code=code,
            brand=None if admin else _brand_from_request(),
            retry_url=request.full_path.rstrip("?") if request.method == "GET" else "",
        )
    except Exception:
        log.exception("the error page itself failed on %s", request.path)
        html = FALLBACK
    response = Response(html, code, mimetype="text/html")
    if code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def register(app: Flask) -> None:
    """Attach the error handlers to `app`."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        if request.path.startswith("/admin"):
            return render_template("admin/http_error.html", code=400, csrf=True), 400
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if exc.code in (500, 503):  # also when an error handler itself failed
            return failure_page(exc.code)
        if request.path.startswith("/api/v1/"):  # e.g. 405/404 before the API's blueprint
            from portal.routes.api import http_problem

            return http_problem(exc)
        if exc.code == 429 and request.endpoint == "auth.login":
            from portal.routes.auth import rate_limited_response

            return rate_limited_response()
        if exc.code == 429 and request.endpoint == "admin.login":
            from admin.forms import AdminLoginForm

            form = AdminLoginForm()
            return render_template("admin/login.html", form=form, rate_limited=True), 429
        if exc.code in (400, 403, 404, 405, 409, 413, 429):
            detail = exc.description if exc.code == 409 else ""
            template = "admin/http_error.html" if request.path.startswith("/admin") else None
            return render_template(
                template or "errors/http.html", code=exc.code, detail=detail
            ), exc.code
        return exc

    @app.errorhandler(Exception)
    def server_error(exc: Exception) -> Response:
        down = database_down(exc)
        if down:
            log.error("Database unavailable on %s: %s", request.path, exc)
        else:
            log.exception("Unhandled error on %s", request.path)
        return failure_page(503 if down else 500)
