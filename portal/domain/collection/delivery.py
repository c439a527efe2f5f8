"""Posting signed JSON to agencies (a dossier, a recall, a payment made in the portal).

The outgoing webhooks' machinery does the work: the same signature header
(`Betaalportaal-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, here with the
agency's secret), the same target check (https in production, never loopback or private
addresses, resolved once and connected to by that address) and the same back-off for a
day. One short transaction per delivery around the claim and the outcome, never across
the network call.
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy.orm import Session

from portal.domain import outgoing
from portal.domain.collection.models import Agency, AgencyDelivery
from portal.models import utcnow

USER_AGENT = "Betaalportaal-Collection/1"


def deliver_due(
    session: Session,
    *,
    production: bool,
    allow_private: bool = False,
    post: outgoing.Poster = outgoing.http_post,
    now: dt.datetime | None = None,
) -> outgoing.DeliveryResult:
    """Post every due delivery once; returns what happened."""
    now = now or utcnow()
    result = outgoing.DeliveryResult()
    for delivery_id in outgoing.claim_due(session, AgencyDelivery, now):
        row = session.get_one(AgencyDelivery, delivery_id)
        agency = session.get_one(Agency, row.agency_id)
        outcome = _post(row, agency, production, allow_private, post)
        _record(row, outcome, now, result)
        session.commit()
    return result


def _post(
    row: AgencyDelivery,
    agency: Agency,
    production: bool,
    allow_private: bool,
    post: outgoing.Poster,
) -> outgoing.Posted:
    if not agency.endpoint_url:
        return outgoing.Posted(None, "the agency has no endpoint")
    try:
        target = outgoing.check_url(
            agency.endpoint_url, production=production, allow_private=allow_private
        )
    except outgoing.UnsafeTarget as exc:
        return outgoing.Posted(None, f"refused target: {exc}")
    body = row.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        outgoing.SIGNATURE_HEADER: outgoing.sign(agency.secret, body, int(time.time())),
    }
    return post(target, body, headers)


def _record(
    row: AgencyDelivery, outcome: outgoing.Posted, now: dt.datetime, result: outgoing.DeliveryResult
) -> None:
    row.last_status_code = outcome.status
    ok = outcome.status is not None and 200 <= outcome.status < 300
    row.last_error = "" if ok else (outcome.error or f"HTTP {outcome.status}")
    if ok:
        row.status, row.delivered_at = "sent", now
        result.sent += 1
        return
    next_at = now + outgoing.backoff(row.attempts)
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
    if next_at - created > outgoing.GIVE_UP_AFTER:
        row.status = "failed"
        result.failed += 1
        return
    row.status, row.next_attempt_at = "pending", next_at
    result.retried += 1


def verify(secret: str, body: bytes, header: str, now: int, tolerance: int = 300) -> bool:
    """Check a signature in our format (an agency's callback): the HMAC matches and the
    timestamp is within `tolerance` seconds."""
    import hmac

    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        stamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False
    expected = outgoing.sign(secret, body, stamp)
    return hmac.compare_digest(expected, f"t={stamp},v1={parts.get('v1', '')}")
