"""`/metrics` in the Prometheus text format (prometheus-client).

Two kinds of figures:
- counted in the web process: requests and their duration per route (`endpoint`, the
  Flask endpoint name, so ids in URLs do not make new series). Under gunicorn every
  worker process writes them to files in PROMETHEUS_MULTIPROC_DIR (prometheus-client's
  multiprocess mode, set up by deploy/gunicorn.conf.py and scripts/start-production.sh)
  and a scrape adds up all of them.
- read from the database at each scrape (`domain/operations.py`): the outbox, the
  worker's heartbeat, the morning run, imports, payments, webhooks in and out. Any web
  process answers with the same truth, whichever worker did the work.

With METRICS_TOKEN set a scrape must send `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import math
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from portal.db import db
from portal.domain import operations
from portal.models import utcnow

PREFIX = "betaalportaal"
# not registered anywhere at import: each scrape builds its own registry (below)
REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by method, route (Flask endpoint) and status.",
    ["method", "endpoint", "status"],
    registry=None,
)
LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)

disable_created_metrics()  # the *_created series only add noise
bp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    """Count every request (also 404s and errors) and serve /metrics."""

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("request_started")
        endpoint = request.endpoint or "none"  # no route matched: one series for all
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        if started is not None:
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
        return response

    app.register_blueprint(bp)


@bp.get("/metrics")
def scrape() -> Response:
    """The Prometheus text format: request figures of this web server's processes and the
    figures of the whole deployment from the database."""
    token = current_app.config["SETTINGS"].metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            abort(401)
    figures = operations.read(db.session(), utcnow())
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every gunicorn worker's files
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(_FromDatabase(figures))
    response = Response(generate_latest(registry), mimetype=None)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


class _FromDatabase:
    """A collector for one scrape's `operations.Figures`."""

    def __init__(self, figures: operations.Figures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        yield from _outbox(f)
        age = math.inf if f.worker_seen is None else (f.now - f.worker_seen).total_seconds()
        yield _gauge(
            "worker_heartbeat_age_seconds",
            "Seconds since a worker last ran its schedule (+Inf: never).",
            [((), max(age, 0.0))],
        )
        yield _gauge(
            "workers_alive",
            "Workers whose heartbeat is at most two minutes old.",
            [((), f.workers_recent)],
        )
        yield from _jobs(f)
        yield _gauge(
            "import_jobs",
            "Import jobs per status.",
            [((status,), n) for status, n in sorted(f.imports.items())],
            ["status"],
        )
        yield _gauge(
            "payments",
            "Payments per provider and status (test mode left out).",
            [(key, n) for key, n in sorted(f.payments.items())],
            ["provider", "status"],
        )
        yield _gauge(
            "webhooks_in_waiting",
            "Provider webhooks received and not yet applied by the worker.",
            [((), f.webhooks_in_waiting)],
        )
        yield _gauge(
            "webhooks_in_lag_seconds",
            "Seconds the oldest provider webhook not yet applied waits (0: none).",
            [((), f.webhooks_in_oldest_waiting)],
        )
        yield _gauge(
            "webhooks_out",
            "Outgoing webhook events to shops, per status.",
            [((status,), n) for status, n in sorted(f.webhooks_out.items())],
            ["status"],
        )
        yield _gauge(
            "webhooks_out_lag_seconds",
            "Seconds the oldest undelivered outgoing webhook event waits (0: none).",
            [((), f.webhooks_out_oldest_pending)],
        )


def _gauge(
    name: str, doc: str, samples: list[tuple[tuple[str, ...], float]], labels: Any = ()
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels))
    for values, value in samples:
        family.add_metric(list(values), float(value))
    return family


def _outbox(f: operations.Figures) -> Iterator[Metric]:
    yield _gauge(
        "outbox_messages",
        "Messages in the outbox per channel and status.",
        [(key, n) for key, n in sorted(f.outbox.items())],
        ["channel", "status"],
    )
    sent = CounterMetricFamily(
        f"{PREFIX}_outbox_sent",
        "Messages sent so far per channel (its rate is the send rate).",
        labels=["channel"],
    )
    channels = sorted({channel for channel, _status in f.outbox} | {"email", "sms"})
    for channel in channels:
        sent.add_metric([channel], float(f.outbox.get((channel, "sent"), 0)))
    yield sent
    yield _gauge(
        "outbox_oldest_due_seconds",
        "Seconds the oldest message due for sending has waited, per channel (0: none).",
        [((channel,), f.outbox_oldest_due.get(channel, 0.0)) for channel in channels],
        ["channel"],
    )


def _jobs(f: operations.Figures) -> Iterator[Metric]:
    started = _gauge_family("job_last_started_timestamp_seconds", "When the job last began.")
    success = _gauge_family(
        "job_last_success_timestamp_seconds", "When the job last ended well (0: never)."
    )
    duration = _gauge_family(
        "job_last_duration_seconds", "How long the job's last finished run took."
    )
    running = _gauge_family("job_running", "1 while a run of the job is running.")
    failed = _gauge_family("job_last_failed", "1 when the job's newest run failed.")
    counts = GaugeMetricFamily(
        f"{PREFIX}_job_last_count",
        "What the job's newest finished run counted (dunning: messages, invoices).",
        labels=["kind", "what"],
    )
    for kind, run in sorted(f.jobs.items()):
        if run is None:
            success.add_metric([kind], 0.0)
            continue
        started.add_metric([kind], run.started_at.timestamp())
        success.add_metric([kind], run.last_success_at.timestamp() if run.last_success_at else 0.0)
        if run.finished_at is not None:
            duration.add_metric([kind], (run.finished_at - run.started_at).total_seconds())
        running.add_metric([kind], 1.0 if run.status == "running" else 0.0)
        failed.add_metric([kind], 1.0 if run.status == "failed" else 0.0)
        for what, n in sorted(run.summary.items()):
            counts.add_metric([kind, what], float(n))
    yield from (started, success, duration, running, failed, counts)


def _gauge_family(name: str, doc: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=["kind"])
