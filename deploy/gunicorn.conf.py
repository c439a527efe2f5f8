"""gunicorn settings for the portal (scripts/start-production.sh web uses this file).

Environment: BIND (default 127.0.0.1:8000: only the reverse proxy reaches it),
WEB_CONCURRENCY (worker processes, default 4), WEB_THREADS (threads per process,
default 1), LOG_FORMAT (json: gunicorn's own lines as JSON too, and the app logs each
request instead of gunicorn's access log), PROMETHEUS_MULTIPROC_DIR (set by the script).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = 60  # a PDF or an export may take seconds; nothing should take a minute
graceful_timeout = 30
keepalive = 5
max_requests = 5000  # recycle workers now and then (memory), staggered
max_requests_jitter = 500
# TRUSTED_PROXIES (Werkzeug's ProxyFix in the app) alone decides which X-Forwarded-*
# headers count; gunicorn must not derive the scheme from them by itself
secure_scheme_headers: dict[str, str] = {}
forwarded_allow_ips = "127.0.0.1"
errorlog = "-"
json_logs = os.environ.get("LOG_FORMAT", "text").strip().lower() == "json"
accesslog = None if json_logs else "-"
if json_logs:
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portal.observability.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
    }


def child_exit(server: Any, worker: Any) -> None:
    """A worker process ended: its metric files no longer count as live."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """gunicorn stops: remove the metrics folder the start script made for it."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.environ.get("BETAALPORTAAL_METRICS_TMP"):
        shutil.rmtree(folder, ignore_errors=True)
