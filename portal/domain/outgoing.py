"""Outgoing webhooks: a brand's shop hears when a pay-link made over the API is paid,
failed, expired or refunded.

Events are rows written in the transaction that changed the payment (like the mail
outbox) and posted by the worker: JSON, signed with the header
`Betaalportaal-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, retried with
exponential back-off for up to a day. Target URLs must be https in production and never
point at loopback or private addresses: checked when saved and again before each delivery
(the name may resolve elsewhere by then), and the delivery connects to the very address
that was checked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.domain.payments.providers.base import Status
from portal.models import ApiPayLink, Brand, Payment, WebhookEndpoint, WebhookEvent, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Betaalportaal-Signature"
GIVE_UP_AFTER = dt.timedelta(days=1)
FIRST_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=4)
TIMEOUT_SECONDS = 10
BATCH = 50
EVENTS = {
    Status.PAID: "payment.paid",
    Status.FAILED: "payment.failed",
    Status.CANCELED: "payment.failed",
    Status.EXPIRED: "payment.expired",
    Status.REFUNDED: "payment.refunded",
    Status.CHARGED_BACK: "payment.refunded",
}


class UnsafeTarget(ValueError):
    """A URL we will not post to; the message says why (shown in admin and the log)."""


# --------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """Where a delivery goes: the URL's name (Host header, TLS server name and certificate)
    and the one address that was checked, which is the only address connected to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%")[0] for info in infos]


def check_url(url: str, *, production: bool, allow_private: bool = False) -> Target:
    """Refuse what is not a public http(s) target; returns it with the address to use.

    https only in production; every address the name resolves to must be public (no
    loopback, private, link-local or reserved address), unless `allow_private` (tests and
    development only; production ignores it). The name is resolved here once: the delivery
    connects to the address returned, so a name that resolves elsewhere a moment later
    (DNS rebinding) cannot send the post to an address that was never checked."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget("not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeTarget("use an https:// URL")
    if production and parts.scheme != "https":
        raise UnsafeTarget("use an https:// URL")
    if parts.username or parts.password:
        raise UnsafeTarget("leave user names and passwords out of the URL")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        raise UnsafeTarget("the host name does not resolve") from None
    if not addresses:
        raise UnsafeTarget("the host name does not resolve")
    if not (allow_private and not production):
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if not ip.is_global or ip.is_multicast:
                raise UnsafeTarget("the host is a loopback, private or reserved address")
    return Target(url, parts.scheme, parts.hostname, port, addresses[0])


def new_secret() -> str:
    """A signing secret for an endpoint."""
    return "whsec_" + secrets.token_urlsafe(32)


def save_endpoint(
    session: Session, brand: Brand, url: str, *, production: bool, allow_private: bool
) -> tuple[WebhookEndpoint, str | None]:
    """Set the brand's target URL (checked); returns the endpoint and, when it is new, its
    secret (to show once)."""
    url = url.strip()
    check_url(url, production=production, allow_private=allow_private)
    endpoint = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.brand_id == brand.id))
    if endpoint is None:
        endpoint = WebhookEndpoint(brand_id=brand.id, url=url, secret=new_secret())
        session.add(endpoint)
        session.flush()
        return endpoint, endpoint.secret
    endpoint.url = url
    endpoint.active = True
    return endpoint, None


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """A new secret (the old one stops working at once); returned to show once."""
    endpoint.secret = new_secret()
    return endpoint.secret


# ---------------------------------------------------------------------------- events
def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _add(session: Session, brand_id: int, event: str, data: dict[str, Any]) -> WebhookEvent:
    row = WebhookEvent(brand_id=brand_id, event=event, payload="")
    session.add(row)
    session.flush()
    row.payload = json.dumps(
        {"id": f"evt_{row.id}", "type": event, "created": int(time.time()), "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )
    return row


def payment_changed(session: Session, payment: Payment, status: Status) -> WebhookEvent | None:
    """Queue the event for a payment that reached `status`, when it was made from a pay-link
    created over the API and the brand has an active endpoint."""
    event = EVENTS.get(status)
    if event is None or payment.pay_link_id is None:
        return None
    record = session.get(ApiPayLink, payment.pay_link_id)
    if record is None:
        return None
    active = session.scalar(
        select(WebhookEndpoint.id).where(
            WebhookEndpoint.brand_id == payment.brand_id, WebhookEndpoint.active.is_(True)
        )
    )
    if active is None:
        return None
    from portal.domain import api

    data = {
        "pay_link_id": payment.pay_link_id,
        "payment_id": payment.public_id,
        "status": status.value,
        "amount_cents": payment.amount_cents,
        "received_cents": payment.received_cents,
        "refunded_cents": payment.refunded_cents + payment.charged_back_cents,
        "currency": payment.currency,
        "method": payment.method,
        "test_mode": record.test_mode,
        "invoices": [api.shown_number(i.number) for i in payment.invoices],
    }
    return _add(session, payment.brand_id, event, data)


def test_event(session: Session, brand: Brand) -> WebhookEvent:
    """A `ping` event to try the endpoint from admin."""
    return _add(session, brand.id, "ping", {"brand": brand.slug, "test_mode": True})


def resend(session: Session, event: WebhookEvent) -> WebhookEvent:
    """Queue the same body again as a new delivery (admin)."""
    copy = WebhookEvent(brand_id=event.brand_id, event=event.event, payload=event.payload)
    session.add(copy)
    session.flush()
    return copy


# -------------------------------------------------------------------------- delivery
@dataclass(frozen=True)
class Posted:
    status: int | None
    error: str = ""


Poster = Callable[[Target, bytes, dict[str, str]], Posted]


def _pinned(target: Target) -> http.client.HTTPConnection:
    """A connection to `target.address` that otherwise behaves as one to `target.host`: the
    Host header, the TLS server name (SNI) and the certificate check all use the name."""
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(
            target.host, target.port, timeout=TIMEOUT_SECONDS, context=tls_context()
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=TIMEOUT_SECONDS)

    def connect_to_checked_address(
        _address: tuple[str, int], timeout: float, source: tuple[str, int] | None = None
    ) -> socket.socket:
        return socket.create_connection((target.address, target.port), timeout, source)

    # http.client opens its socket through this attribute; everything else stays by name
    conn._create_connection = connect_to_checked_address  # type: ignore[attr-defined]
    return conn


def tls_context() -> ssl.SSLContext:
    """Certificates are verified against the system's trusted roots."""
    return ssl.create_default_context()


def http_post(target: Target, body: bytes, headers: dict[str, str]) -> Posted:
    """POST without following redirects (a redirect could lead to a private address)."""
    parts = urlsplit(target.url)
    conn = _pinned(target)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return Posted(response.status)
    except (OSError, http.client.HTTPException) as exc:
        return Posted(None, f"{type(exc).__name__}: {exc}"[:250])
    finally:
        conn.close()


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min ... at most 4 hours between tries."""
    return min(FIRST_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


@dataclass
class DeliveryResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def claim_due(session: Session, model: Any, now: dt.datetime) -> Iterator[int]:
    """The ids of due pending rows of `model` (outgoing webhook events, agency deliveries:
    each has status, next_attempt_at and attempts), each claimed as `sending` in its own
    short commit before it is yielded; a row another worker claimed first is skipped."""
    ids = session.scalars(
        select(model.id)
        .where(model.status == "pending", model.next_attempt_at <= now)
        .order_by(model.next_attempt_at, model.id)
        .limit(BATCH)
    ).all()
    session.commit()
    for row_id in ids:
        claimed = session.execute(
            update(model)
            .where(model.id == row_id, model.status == "pending")
            .values(status="sending", attempts=model.attempts + 1)
        ).rowcount  # type: ignore[attr-defined]
        session.commit()
        if claimed:
            yield row_id


def deliver_due(
    session: Session,
    *,
    production: bool,
    allow_private: bool = False,
    post: Poster = http_post,
    now: dt.datetime | None = None,
) -> DeliveryResult:
    """Post every due event once (one short transaction per event around the claim and the
    outcome, never across the network call)."""
    now = now or utcnow()
    result = DeliveryResult()
    for event_id in claim_due(session, WebhookEvent, now):
        event = session.get_one(WebhookEvent, event_id)
        endpoint = session.scalar(
            select(WebhookEndpoint).where(WebhookEndpoint.brand_id == event.brand_id)
        )
        outcome = _post(event, endpoint, production, allow_private, post)
        _record(event, outcome, now, result)
        session.commit()
    return result


def _post(
    event: WebhookEvent,
    endpoint: WebhookEndpoint | None,
    production: bool,
    allow_private: bool,
    post: Poster,
) -> Posted:
    if endpoint is None or not endpoint.active:
        return Posted(None, "no active endpoint for this brand")
    try:
        target = check_url(endpoint.url, production=production, allow_private=allow_private)
    except UnsafeTarget as exc:
        return Posted(None, f"refused target: {exc}")
    body = event.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Betaalportaal-Webhooks/1",
        SIGNATURE_HEADER: sign(endpoint.secret, body, int(time.time())),
    }
    return post(target, body, headers)


def _record(event: WebhookEvent, outcome: Posted, now: dt.datetime, result: DeliveryResult) -> None:
    event.last_status_code = outcome.status
    event.last_error = outcome.error or (
        "" if outcome.status and 200 <= outcome.status < 300 else f"HTTP {outcome.status}"
    )
    if outcome.status is not None and 200 <= outcome.status < 300:
        event.status = "sent"
        event.delivered_at = now
        result.sent += 1
        return
    next_at = now + backoff(event.attempts)
    if next_at - event.created_at > GIVE_UP_AFTER:
        event.status = "failed"
        result.failed += 1
        log.warning("webhook event %s given up: %s", event.id, event.last_error)
        return
    event.status = "pending"
    event.next_attempt_at = next_at
    result.retried += 1


def recent(session: Session, limit: int = 100) -> list[WebhookEvent]:
    """The newest deliveries (admin log)."""
    return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)))
