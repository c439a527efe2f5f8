"""Incoming provider webhooks: verify at once, apply in the worker, log every delivery.

`accept` runs in the web request: it verifies the delivery (`Provider.parse_webhook`),
records it and answers fast, as Stripe and Mollie ask. A forged delivery gets 400 and
changes nothing; one about something we do not track gets 200. `process` runs in the
worker: it finds our payment, asks the provider for the current truth and applies it under
a row lock, so duplicated, concurrent and out-of-order deliveries end in the same state.
An unreachable provider raises `ProviderError`, and the task is retried.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.payments.providers.base import (
    Forged,
    Ignored,
    Provider,
    ProviderError,
    WebhookRequest,
)
from portal.domain.payments.service import Notifier, by_provider_ref, sync
from portal.models import WebhookDelivery, utcnow

QUEUED = "queued"


@dataclass(frozen=True)
class Answer:
    """What to answer the provider, and the logged delivery."""

    http_status: int
    outcome: str
    delivery: WebhookDelivery


def accept(
    session: Session, provider: Provider, request: WebhookRequest, remote_addr: str = ""
) -> Answer:
    """Verify and record one delivery in the caller's transaction (commit either way)."""
    delivery = WebhookDelivery(provider=provider.name, remote_addr=remote_addr[:45])
    try:
        ref = provider.parse_webhook(request)
    except Forged as exc:
        return _answer(session, delivery, 400, "forged", str(exc))
    except Ignored as exc:
        return _answer(session, delivery, 200, "ignored", str(exc))
    except ProviderError as exc:
        return _answer(session, delivery, 503, "provider_error", str(exc))
    delivery.provider_ref = ref[:120]
    return _answer(session, delivery, 200, QUEUED, "")


def _answer(
    session: Session, delivery: WebhookDelivery, status: int, outcome: str, detail: str
) -> Answer:
    delivery.outcome = outcome
    delivery.detail = detail[:1000]
    if outcome != QUEUED:
        delivery.processed_at = utcnow()
    session.add(delivery)
    session.flush()  # the id goes to the worker
    return Answer(status, outcome, delivery)


def process(
    session: Session,
    provider: Provider,
    delivery_id: int,
    notifier: Notifier | None,
    now: dt.datetime | None = None,
) -> str:
    """Apply a queued delivery (worker; the caller commits). Returns the outcome logged.

    Raises ProviderError when the provider cannot be asked; the delivery stays queued
    and the task is retried.
    """
    delivery = session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    ).scalar_one()
    if delivery.outcome != QUEUED:
        return delivery.outcome  # processed before (a retried task)
    payment = by_provider_ref(session, provider.name, delivery.provider_ref)
    if payment is None:
        outcome, detail = "unknown", "no payment with this reference"
    else:
        try:
            result = sync(session, provider, payment.id, notifier, now)
        except Ignored as exc:
            result = None
            outcome, detail = "ignored", str(exc)
        # only now, under the payment's lock: writing the foreign key earlier takes a
        # share lock on the payment row, and 50 workers doing that deadlock on PostgreSQL
        delivery.payment_id = payment.id
        if result is not None:
            if result.note:
                outcome, detail = "ignored", result.note
            elif result.changed:
                outcome, detail = "applied", f"{result.old} -> {result.new}"
            else:
                outcome, detail = "unchanged", str(result.new)
    delivery.outcome, delivery.detail = outcome, detail[:1000]
    delivery.processed_at = now or utcnow()
    return outcome
