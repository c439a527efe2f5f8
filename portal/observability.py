"""Logs, request ids and error reports (README "Production": LOG_FORMAT, SENTRY_DSN).

- Every request gets an id: the `X-Request-ID` a trusted proxy sent (TRUSTED_PROXIES > 0),
  else a new one. It is answered in the `X-Request-ID` header, carried by every log line
  written while the request runs, and tagged on its Sentry event.
- `LOG_FORMAT=json` writes one JSON object a line (time, level, logger, message,
  request_id, exception), and one line per request (method, path, endpoint, status,
  duration); with `text` the web server's access log does that.
- `SENTRY_DSN` turns on sentry-sdk (the "sentry" extra): errors of requests, and error log
  lines of the web app and the worker, are reported; nothing is loaded without it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from portal.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
# what we accept from a proxy: nginx's $request_id, Caddy's UUID, a load balancer's trace id
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:+/=-]{1,128}$")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# LogRecord attributes that are not extra fields of our own
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

access_log = logging.getLogger("portal.request")


def current_request_id() -> str | None:
    """The id of the request being answered (None outside a request)."""
    if has_request_context():
        return g.get("request_id")
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object a line; the request id when the line was written in a request.
    Fields passed as `extra=` appear as keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(log_format: str) -> None:
    """Log to stderr as text (the default) or as JSON lines."""
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    if log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    else:
        logging.basicConfig(level=logging.INFO, format=_TEXT_FORMAT)


def init_app(app: Flask, settings: Settings) -> None:
    """Request ids, the JSON request log and Sentry for `app`."""
    trust_header = settings.trusted_proxies > 0
    json_lines = settings.log_format == "json"
    sentry = init_sentry(settings)

    @app.before_request
    def _begin() -> None:
        g.request_started = time.perf_counter()
        given = request.headers.get(REQUEST_ID_HEADER, "") if trust_header else ""
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        if sentry:
            import sentry_sdk

            sentry_sdk.get_isolation_scope().set_tag("request_id", g.request_id)

    @app.after_request
    def _end(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if json_lines:
            started = g.get("request_started")
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "endpoint": request.endpoint or "",
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1)
                    if started
                    else None,
                    "remote_addr": request.remote_addr,
                },
            )
        return response


def init_sentry(settings: Settings) -> bool:
    """Start sentry-sdk when SENTRY_DSN is set; True when it runs. No personal data is
    sent (no cookies, no addresses, no bodies)."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.app_env,
        integrations=[FlaskIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
    )
    return True
