"""Pages for everyone: start, language switch, brand stylesheet and logo, health."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select

from portal import debtor_session
from portal.db import db
from portal.domain import liveness
from portal.domain.brands import focus_ring, link_colour, safe_color, text_on
from portal.forms import LanguageForm
from portal.models import FONTS, Brand, utcnow

bp = Blueprint("site", __name__)


@bp.get("/")
def index() -> Any:
    if debtor_session.is_logged_in():
        return redirect(url_for("portal.overview"))
    return redirect(url_for("auth.login"))


@bp.get("/favicon.ico")
def favicon() -> Any:
    """Browsers and feed readers that ask for /favicon.ico get the SVG icon."""
    return redirect(url_for("static", filename="img/favicon.svg"), code=301)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers (nothing else is checked, so a database outage does
    not get the process restarted); the baseline of bench/portal_pages.py."""
    return Response("ok", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the database answers, its migrations are at head, the task queue answers
    and a worker ran its schedule in the last two minutes; 503 names what failed."""
    from portal import tasks
    from portal.cli import migration_heads

    checks = liveness.readiness(db.session(), utcnow(), migration_heads())
    checks["queue"] = tasks.queue_ready()
    ready = all(value == "ok" for value in checks.values())
    return jsonify(ready=ready, checks=checks), 200 if ready else 503


@bp.post("/language")
def language() -> Any:
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
    # htmx changes the address (filters, paging) without reloading the page, so the page
    # the person is on is best told by the Referer; the form's field is the fallback
    target = _same_site(request.referrer) or form.next.data or url_for("site.index")
    return redirect(_local_path(target), code=303)


def _same_site(referrer: str | None) -> str:
    """The referrer's path and query when it is a page of this site, else ''."""
    if not referrer:
        return ""
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _local_path(target: str) -> str:
    """Only same-site paths: never let `next` send someone to another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//"):
        return url_for("site.index")
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.get("/brand/<int:brand_id>.css")
def brand_css(brand_id: int) -> Response:
    """Brand colours and font as CSS variables (the CSP forbids inline styles)."""
    brand = db.session.get(Brand, brand_id) or abort(404)
    primary = safe_color(brand.primary_color, "#1d4ed8")
    css = render_template(
        "brand.css",
        brand=brand,
        primary=primary,
        accent=safe_color(brand.accent_color, "#f59e0b"),
        on_primary=text_on(primary),
        link=link_colour(primary),
        focus=focus_ring(primary),
        font_stack=FONTS.get(brand.font, FONTS["system"]),
    )
    response = Response(css, mimetype="text/css")
    response.set_etag(f"{brand.id}-{brand.updated_at.timestamp()}")
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response.make_conditional(request)  # type: ignore[return-value]


@bp.get("/brand/<int:brand_id>/logo")
def brand_logo(brand_id: int) -> Response:
    row = db.session.execute(
        select(Brand.logo, Brand.logo_mime, Brand.updated_at).where(Brand.id == brand_id)
    ).first()
    if row is None or not row.logo or not row.logo_mime:
        abort(404)
    response = Response(row.logo, mimetype=row.logo_mime)
    response.set_etag(f"logo-{brand_id}-{row.updated_at.timestamp()}")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response.make_conditional(request)  # type: ignore[return-value]
