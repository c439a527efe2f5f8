"""Betaalportaal: the debtor portal application factory."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from portal import errors, metrics, observability
from portal.config import Settings
from portal.db import db
from portal.domain.params import MAX_ID
from portal.extensions import babel, csrf, limiter
from portal.i18n import select_language

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'self'; "
    "object-src 'none'; frame-ancestors 'none'"
)


def create_app(settings: Settings | None = None, **engine_kwargs: Any) -> Flask:
    """Build the app from `settings` (default: the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="bp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=settings.session_idle_minutes),
        MAX_CONTENT_LENGTH=60 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="nl",
        BABEL_TRANSLATION_DIRECTORIES="translations",
        RATELIMIT_ENABLED=settings.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_KEY_PREFIX=settings.queue_name,  # portals sharing one Redis keep apart
        IMPORT_BACKGROUND_BYTES=2 * 1024 * 1024,  # larger uploads are committed by the worker
        SEND_FILE_MAX_AGE_DEFAULT=dt.timedelta(days=1),
        **dict(settings.extra),
    )
    observability.configure_logging(settings.log_format)

    if settings.trusted_proxies:
        app.wsgi_app = behind_proxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    db.configure(settings.database_url, **engine_kwargs)
    app.teardown_appcontext(db.remove)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_language)

    from portal import dispatch, tasks

    tasks.bind_app(app, settings)
    dispatch.install(app, db.factory)

    app.url_map.converters["int"] = DatabaseId
    observability.init_app(app, settings)  # request ids first: every later hook logs with one
    metrics.init_app(app)
    _register_blueprints(app, settings)
    _register_template_helpers(app)
    errors.register(app)
    app.after_request(_security_headers)

    from portal.cli import register as register_cli

    register_cli(app)
    return app


class DatabaseId(IntegerConverter):
    """`<int:...>` in every route: at most the largest id an integer column holds, so a
    URL with a huge number is a 404 instead of a database overflow (a 500)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def behind_proxies(wsgi_app: Any, count: int) -> Any:
    """Read the client's address and scheme from the X-Forwarded-For and -Proto headers
    that `count` reverse proxies in front add (TRUSTED_PROXIES).

    Only the last `count` entries are believed: a client can send any X-Forwarded-For it
    likes, and each proxy appends the address it saw. Rate limits and recorded addresses
    (login requests, plan agreements, admin logins, webhooks) then name the real client.
    X-Forwarded-Host is not read: the documented proxy passes the Host header itself.
    """
    return ProxyFix(wsgi_app, x_for=count, x_proto=count, x_host=0, x_port=0, x_prefix=0)


def _register_blueprints(app: Flask, settings: Settings) -> None:
    from admin import bp as admin_bp
    from portal.routes import (
        api,
        auth,
        collection,
        pay,
        plans,
        portal,
        requests,
        sandbox,
        site,
        webhooks,
    )

    app.register_blueprint(site.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(pay.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(plans.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(collection.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.docs_bp)
    if not settings.is_production:
        app.register_blueprint(sandbox.bp)
    app.register_blueprint(admin_bp)


def _register_template_helpers(app: Flask) -> None:
    from admin.session import current_admin
    from portal import i18n
    from portal.debtor_session import current_debtor
    from portal.domain.brands import safe_color, text_on
    from portal.domain.clock import today
    from portal.domain.invoices import StatusView, status_view
    from portal.domain.payments.transfer import epc_qr_data_uri
    from portal.models import FONTS, Invoice

    settings: Settings = app.config["SETTINGS"]

    def status_of(invoice: Invoice) -> StatusView:
        return status_view(invoice, today(settings.portal_timezone))

    from portal.collecting import handover_state_label

    app.jinja_env.filters["money"] = i18n.money
    app.jinja_env.filters["date"] = i18n.date
    app.jinja_env.filters["css_color"] = lambda value: safe_color(value, "#1d4ed8")
    app.jinja_env.filters["text_on"] = text_on
    app.jinja_env.globals.update(
        current_debtor=current_debtor,
        current_admin=current_admin,
        current_language=i18n.current_language,
        LANGUAGE_NAMES=i18n.LANGUAGE_NAMES,
        status_of=status_of,
        event_label=i18n.event_label,
        status_badge=i18n.status_badge,
        invoice_label=i18n.invoice_label,
        invoice_note=i18n.invoice_note,
        whats_next_note=i18n.whats_next_note,
        payment_badge=i18n.payment_badge,
        method_logos=i18n.method_logos,
        override_note=i18n.override_note,
        method_name=i18n.method_name,
        request_kind_label=i18n.request_kind_label,
        request_state_label=i18n.request_state_label,
        request_badge=i18n.request_badge,
        plan_status_label=i18n.plan_status_label,
        plan_badge=i18n.plan_badge,
        plan_event_label=i18n.plan_event_label,
        dispute_reason_label=i18n.dispute_reason_label,
        message_text=i18n.message_text,
        epc_qr=epc_qr_data_uri,
        fonts=FONTS,
        handover_state=handover_state_label,
    )


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    settings: Settings = response_settings()
    if settings.https:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if not request.path.startswith(("/static/", "/brand/")):
        headers["Cache-Control"] = "no-store"
    return response


def response_settings() -> Settings:
    from flask import current_app

    settings: Settings = current_app.config["SETTINGS"]
    return settings
