"""The webshop REST API under /api/v1: JSON in and out, errors as RFC 9457 problems.

Auth is `Authorization: Bearer bp_live_…` (or `bp_test_…`); a key sees only its own
brand's pay-links made over the API in its own mode, and the names only of customers it
created. Creates honour `Idempotency-Key`.
Amounts are integer cents (`amount_cents`), never decimal strings or floats.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import HTTPException, NotFound

from portal import runtime
from portal.db import db
from portal.domain import api
from portal.domain.embed import snippets
from portal.domain.payments import paylinks
from portal.extensions import csrf, limiter
from portal.models import ApiKey, ApiPayLink

bp = Blueprint("api", __name__, url_prefix="/api/v1")
docs_bp = Blueprint("api_docs", __name__, url_prefix="/api")
csrf.exempt(bp)

PROBLEM_TYPE = "https://betaalportaal.example/problems/"
MAX_LIMIT = 100
PUBLIC_ENDPOINTS = {"api.openapi"}


# ------------------------------------------------------------------------ problems
def problem(status: int, title: str, detail: str = "", *, slug: str = "", **extra: Any) -> Response:
    """An RFC 9457 problem details response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + (slug or str(status)),
        "title": title,
        "status": status,
        "detail": detail or title,
        **extra,
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


@bp.errorhandler(HTTPException)
def http_problem(exc: HTTPException) -> Response:
    """An HTTP error as a problem (JSON), keeping headers such as `Allow` on a 405."""
    code = exc.code or 500
    if code == 429:
        response = problem(
            429,
            "Too many requests",
            "Slow down: this key's rate limit is reached.",
            slug="rate-limited",
        )
        response.headers["Retry-After"] = str(_retry_after())
        return response
    response = problem(code, exc.name, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@bp.errorhandler(Exception)
def _server_problem(exc: Exception) -> Response:
    current_app.logger.exception("API error on %s", request.path)
    db.session.rollback()
    return problem(500, "Internal server error", "Something went wrong on our side.")


def _retry_after() -> int:
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


# ---------------------------------------------------------------------------- auth
def current_key() -> ApiKey | None:
    """The request's key (looked up once per request), or None."""
    if "api_key" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        key = None
        if scheme.lower() == "bearer" and raw.strip():
            key = api.authenticate(db.session(), raw.strip())
        g.api_key = key
    key_: ApiKey | None = g.api_key
    return key_


def _rate_key() -> str:
    key = current_key()
    return f"api-key:{key.id}" if key is not None else f"api-ip:{request.remote_addr}"


def _rate_limit() -> str:
    per_minute = runtime.settings().api_per_minute
    return str(current_app.config.get("API_RATE_LIMIT") or f"{per_minute} per minute")


limiter.limit(_rate_limit, key_func=_rate_key)(bp)


@bp.before_request
def _authenticate() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_key() is None:
        response = problem(
            401,
            "Unauthorized",
            "Send a valid, unrevoked API key as 'Authorization: Bearer <key>'.",
            slug="unauthorized",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    return None


def _key() -> ApiKey:
    key = current_key()
    assert key is not None  # guaranteed by _authenticate
    return key


# --------------------------------------------------------------------------- views
def link_json(record: ApiPayLink, key: ApiKey, *, with_embed: bool = True) -> dict[str, Any]:
    """The API's view of a pay-link for `key` (lists leave the embedding snippets out); the
    customer's name only when this key created the customer."""
    settings = runtime.settings()
    link = record.pay_link
    invoice = link.invoices[0] if link.invoices else None
    url = f"{settings.base_url}/p/{paylinks.token(link, settings.secret_key)}"
    extra = {"embed": snippets(url, link.brand, link.debtor.language)} if with_embed else {}
    return {
        "id": link.id,
        "url": url,
        "status": api.link_status(link),
        "test_mode": record.test_mode,
        "reminders": record.reminders,
        "return_url": record.return_url or None,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat(),
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
        "debtor": {
            "id": link.debtor.id,
            "number": api.shown_number(link.debtor.number),
            "name": link.debtor.name if api.created_by(key, link.debtor) else None,
        },
        "invoice": None
        if invoice is None
        else {
            "id": invoice.id,
            "number": api.shown_number(invoice.number),
            "amount_cents": invoice.total_cents,
            "open_cents": invoice.open_cents,
            "currency": invoice.currency,
            "due_date": invoice.due_date.isoformat(),
            "reference": invoice.reference,
            "description": invoice.description,
        },
        **extra,
    }


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _create(key: ApiKey, body: Any) -> tuple[int, dict[str, Any]]:
    """Status and JSON of a create: 201, or a 422/409 problem body."""
    try:
        wish = api.parse_request(body)
        settings = runtime.settings()
        record = api.create_pay_link(
            db.session(),
            key,
            wish,
            runtime.business_today(),
            settings.pay_link_days,
        )
    except api.Invalid as exc:
        db.session.rollback()
        errors = [{"pointer": k, "detail": v} for k, v in exc.errors.items()]
        return 422, _problem_body(
            422, "Invalid request", "Some fields need a change.", "invalid", errors=errors
        )
    except api.Conflict as exc:
        db.session.rollback()
        return 409, _problem_body(409, "Conflict", str(exc), "conflict")
    except api.NotYours:
        db.session.rollback()
        return 409, _problem_body(
            409,
            "Customer number in use",
            "This customer number belongs to a customer this key did not create. Send the "
            "shop's own customer number, or ask the portal's administrator to let this key "
            "add invoices to existing customers.",
            "customer-not-yours",
            errors=[{"pointer": "/debtor/number", "detail": "in use by another customer"}],
        )
    return 201, link_json(record, key)


def _problem_body(status: int, title: str, detail: str, slug: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


def _answer(status: int, body: dict[str, Any]) -> Response:
    response = _json(body, status)
    if status >= 400:
        response.mimetype = "application/problem+json"
    return response


@bp.post("/pay-links")
def create_pay_link() -> Response:
    """Create a pay-link for a (new or existing) debtor and invoice."""
    key = _key()
    raw = request.get_data(cache=True)
    body = request.get_json(force=True, silent=True)
    if body is None:
        return problem(400, "Bad request", "The body must be JSON.", slug="not-json")
    idem = request.headers.get("Idempotency-Key")
    if idem is None:
        status, answer = _create(key, body)
        db.session.commit()
        return _answer(status, answer)
    if not 1 <= len(idem) <= 255:
        return problem(400, "Bad request", "Idempotency-Key: 1 to 255 characters.")
    session = db.session()
    digest = api.request_hash(request.method, request.path, raw)
    try:
        seen = api.claim(session, key, idem, digest)
    except api.IdempotencyClash as exc:
        db.session.rollback()
        if exc.status == 409:
            return problem(
                409,
                "Request in progress",
                "A request with this Idempotency-Key is still running; retry later.",
                slug="idempotency-in-progress",
            )
        return problem(
            422,
            "Idempotency-Key reused",
            "This Idempotency-Key was used with a different request body.",
            slug="idempotency-mismatch",
        )
    if seen is not None:
        db.session.commit()
        response = _answer(seen.status_code or 200, seen.response or {})
        response.headers["Idempotent-Replayed"] = "true"
        return response
    key_id = key.id
    session.commit()  # the claim is visible now: a twin request gets 409 until we finish
    try:
        status, answer = _create(key, body)
        api.remember(session, key, idem, status, answer)
        session.commit()
    except Exception:
        session.rollback()
        api.forget(session, key_id, idem)
        session.commit()
        raise
    return _answer(status, answer)


def _record_or_404(link_id: int) -> ApiPayLink:
    if link_id > 2**31 - 1:  # no such id, and too large for the database's integer
        raise NotFound("No pay-link with this id for this key.")
    record = api.find(db.session(), _key(), link_id)
    if record is None:
        raise NotFound("No pay-link with this id for this key.")
    return record


def _cursor_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(runtime.settings().secret_key, salt="api-cursor")


@bp.get("/pay-links/<int:link_id>")
def get_pay_link(link_id: int) -> Response:
    """One pay-link."""
    record = _record_or_404(link_id)
    answer = link_json(record, _key())
    db.session.commit()  # last_used_at
    return _json(answer)


@bp.get("/pay-links")
def list_pay_links() -> Response:
    """The key's brand's pay-links, newest first, with an opaque cursor to the next page."""
    key = _key()
    unknown = sorted(set(request.args) - {"limit", "cursor"})
    if unknown:
        return problem(
            400,
            "Bad request",
            "Unknown query parameter; use limit and cursor.",
            slug="invalid-query",
            errors=[{"pointer": name, "detail": "unknown parameter"} for name in unknown],
        )
    raw_limit = request.args.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return problem(
            400,
            "Bad request",
            f"limit: a whole number from 1 to {MAX_LIMIT}.",
            slug="invalid-query",
            errors=[{"pointer": "limit", "detail": f"1 to {MAX_LIMIT}"}],
        )
    limit = int(raw_limit)
    after = None
    cursor = request.args.get("cursor")
    if cursor:
        try:
            after = _cursor_serializer().loads(cursor)
        except BadSignature:
            after = None
        if not isinstance(after, int) or isinstance(after, bool):
            return problem(
                400,
                "Bad request",
                "cursor: use the next_cursor of a previous page.",
                slug="invalid-query",
                errors=[{"pointer": "cursor", "detail": "not a cursor of this API"}],
            )
    rows = api.page(db.session(), key, after, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _cursor_serializer().dumps(rows[-1].pay_link_id) if more else None
    answer = {
        "data": [link_json(r, key, with_embed=False) for r in rows],
        "next_cursor": next_cursor,
    }
    db.session.commit()
    return _json(answer)


@bp.post("/pay-links/<int:link_id>/revoke")
def revoke_pay_link(link_id: int) -> Response:
    """Stop a pay-link from working (repeating it changes nothing)."""
    record = _record_or_404(link_id)
    paylinks.revoke(db.session(), record.pay_link, f"api:{_key().id}")
    db.session.flush()
    answer = link_json(record, _key())
    db.session.commit()
    return _json(answer)


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    from portal.openapi import document

    return _json(document(runtime.settings().base_url))


@docs_bp.get("/docs")
def docs() -> str:
    """The API reference as a page, rendered from the OpenAPI document."""
    from portal.openapi import document

    return render_template("api/docs.html", doc=document(runtime.settings().base_url))
