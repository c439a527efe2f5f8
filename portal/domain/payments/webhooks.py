"""Incoming provider webhooks: verify, find our payment, apply the provider's truth, log.

Every delivery is logged with its outcome. A forged delivery gets 400 and changes
nothing; an unknown payment or an illegal (late, out-of-order) transition is logged and
answered 200, so the provider stops retrying; an unreachable provider gets 503 so the
provider retries later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.domain.payments.providers.base import (
    Forged,
    Ignored,
    Provider,
    ProviderError,
    WebhookRequest,
)
from portal.domain.payments.service import Notifier, by_provider_ref, sync
from portal.models import WebhookDelivery


@dataclass(frozen=True)
class Answer:
    """What to answer the provider, and what we logged."""

    http_status: int
    outcome: str


def handle(
    session: Session,
    provider: Provider,
    request: WebhookRequest,
    notifier: Notifier | None,
    remote_addr: str = "",
    now: dt.datetime | None = None,
) -> Answer:
    """Process one delivery in the caller's transaction (the caller commits either way)."""
    delivery = WebhookDelivery(provider=provider.name, remote_addr=remote_addr[:45])
    status, outcome, detail = _process(session, provider, request, notifier, delivery, now)
    delivery.outcome = outcome
    delivery.detail = detail[:1000]
    session.add(delivery)
    return Answer(status, outcome)


def _process(
    session: Session,
    provider: Provider,
    request: WebhookRequest,
    notifier: Notifier | None,
    delivery: WebhookDelivery,
    now: dt.datetime | None,
) -> tuple[int, str, str]:
    try:
        ref = provider.parse_webhook(request)
    except Forged as exc:
        return 400, "forged", str(exc)
    except Ignored as exc:
        return 200, "ignored", str(exc)
    except ProviderError as exc:
        return 503, "provider_error", str(exc)
    delivery.provider_ref = ref[:120]
    payment = by_provider_ref(session, provider.name, ref)
    if payment is None:
        return 200, "unknown", "no payment with this reference"
    delivery.payment_id = payment.id
    try:
        outcome = sync(session, provider, payment.id, notifier, now)
    except Ignored as exc:
        return 200, "ignored", str(exc)
    except ProviderError as exc:
        return 503, "provider_error", str(exc)
    if outcome.note:
        return 200, "ignored", outcome.note
    if outcome.changed:
        return 200, "applied", f"{outcome.old} -> {outcome.new}"
    return 200, "unchanged", str(outcome.new)
