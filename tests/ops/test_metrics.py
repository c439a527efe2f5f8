"""/metrics: names and values after known actions, in the Prometheus text format."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal.db import db
from portal.models import (
    ImportJob,
    JobRun,
    OutboxMessage,
    Payment,
    WebhookDelivery,
    WebhookEvent,
    WorkerHeartbeat,
    utcnow,
)
from tests.factories import create_brand, create_debtor


def scrape(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_count_requests_and_read_the_deployment_from_the_database(app, client):
    now = utcnow()
    brand = create_brand()
    debtor = create_debtor(brand)
    ago = lambda seconds: now - dt.timedelta(seconds=seconds)  # noqa: E731

    def mail(status, channel="email", **kw):
        return OutboxMessage(
            channel=channel, kind="reminder", recipient="x@example.com", status=status, **kw
        )

    db.session.add_all(
        [
            mail("pending", next_attempt_at=ago(600)),  # due for ten minutes: stuck?
            mail("pending", next_attempt_at=now + dt.timedelta(hours=1)),  # a retry, later
            mail("sent", sent_at=ago(60)),
            mail("sent", sent_at=ago(30)),
            mail("failed", channel="sms"),
            WorkerHeartbeat(name="host:1", seen_at=ago(30)),
            WorkerHeartbeat(name="host:2", seen_at=ago(3600)),  # a worker gone
            JobRun(
                kind="dunning",
                status="done",
                started_at=ago(3690),
                heartbeat_at=ago(3600),
                finished_at=ago(3600),
                summary={"messages": 3, "invoices": 4},
            ),
            ImportJob(brand_id=brand.id, file_hash="a" * 64, status="queued"),
            WebhookDelivery(provider="mollie", outcome="queued", received_at=ago(45)),
            WebhookDelivery(
                provider="mollie", outcome="applied", received_at=ago(50), processed_at=ago(49)
            ),
            WebhookEvent(
                brand_id=brand.id, event="payment.paid", payload="{}", created_at=ago(120)
            ),
            WebhookEvent(brand_id=brand.id, event="payment.paid", payload="{}", status="sent"),
        ]
    )
    for n, (status, test_mode) in enumerate([("paid", False), ("open", False), ("paid", True)]):
        db.session.add(
            Payment(
                public_id=f"pub{n}",
                brand_id=brand.id,
                debtor_id=debtor.id,
                provider="mollie",
                provider_ref=f"tr_{n}",
                status=status,
                amount_cents=1000,
                test_mode=test_mode,
            )
        )
    db.session.commit()

    before = scrape(client)
    healthz = ("betaalportaal_http_requests_total", "site.healthz")
    count_before = before.get(
        (healthz[0], (("endpoint", healthz[1]), ("method", "GET"), ("status", "200"))), 0.0
    )
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no/such/page")
    after = scrape(client)

    requests = "betaalportaal_http_requests_total"
    assert value(after, requests, endpoint="site.healthz", method="GET", status="200") == (
        count_before + 2
    )
    assert value(after, requests, endpoint="none", method="GET", status="404") >= 1
    assert (
        value(
            after,
            "betaalportaal_http_request_duration_seconds_count",
            endpoint="site.healthz",
            method="GET",
        )
        >= 2
    )
    outbox = "betaalportaal_outbox_messages"
    assert value(after, outbox, channel="email", status="pending") == 2
    assert value(after, outbox, channel="email", status="sent") == 2
    assert value(after, outbox, channel="sms", status="failed") == 1
    assert value(after, "betaalportaal_outbox_sent_total", channel="email") == 2
    assert value(after, "betaalportaal_outbox_sent_total", channel="sms") == 0
    oldest = value(after, "betaalportaal_outbox_oldest_due_seconds", channel="email")
    assert 600 <= oldest < 700  # the retry due in an hour is not waiting
    assert value(after, "betaalportaal_outbox_oldest_due_seconds", channel="sms") == 0
    assert 30 <= value(after, "betaalportaal_worker_heartbeat_age_seconds") < 100
    assert value(after, "betaalportaal_workers_alive") == 1
    assert value(after, "betaalportaal_job_last_duration_seconds", kind="dunning") == 90
    assert value(after, "betaalportaal_job_last_success_timestamp_seconds", kind="dunning") == (
        pytest.approx(ago(3600).timestamp())
    )
    assert value(after, "betaalportaal_job_last_failed", kind="dunning") == 0
    assert value(after, "betaalportaal_job_last_count", kind="dunning", what="messages") == 3
    assert value(after, "betaalportaal_job_last_count", kind="dunning", what="invoices") == 4
    assert value(after, "betaalportaal_import_jobs", status="queued") == 1
    assert value(after, "betaalportaal_payments", provider="mollie", status="paid") == 1  # no test
    assert value(after, "betaalportaal_payments", provider="mollie", status="open") == 1
    assert value(after, "betaalportaal_webhooks_in_waiting") == 1
    assert 45 <= value(after, "betaalportaal_webhooks_in_lag_seconds") < 120
    assert value(after, "betaalportaal_webhooks_out", status="pending") == 1
    assert value(after, "betaalportaal_webhooks_out", status="sent") == 1
    assert 120 <= value(after, "betaalportaal_webhooks_out_lag_seconds") < 200


def test_without_a_worker_or_a_morning_run_the_alerts_have_something_to_fire_on(app, client):
    samples = scrape(client)
    assert value(samples, "betaalportaal_worker_heartbeat_age_seconds") == float("inf")
    assert value(samples, "betaalportaal_workers_alive") == 0
    assert value(samples, "betaalportaal_job_last_success_timestamp_seconds", kind="dunning") == 0


def test_metrics_token_is_asked_for_when_set(app, client, monkeypatch):
    settings = dataclasses.replace(app.config["SETTINGS"], metrics_token="s3cret-scrape")
    monkeypatch.setitem(app.config, "SETTINGS", settings)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scrape(client, Authorization="Bearer s3cret-scrape")
