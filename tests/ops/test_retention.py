"""The nightly retention job removes what has expired and keeps what has not."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import select

from portal import tasks
from portal.db import db
from portal.models import (
    ApiIdempotency,
    ApiKey,
    ImportJob,
    OutboxMessage,
    TemplatePreview,
    WebhookDelivery,
    WebhookEvent,
    utcnow,
)
from tests.factories import create_admin, create_brand


def test_retention_removes_what_expired_and_keeps_the_rest(app):
    now = utcnow()
    days = lambda n: now - dt.timedelta(days=n)  # noqa: E731
    brand = create_brand()
    admin = create_admin()
    key = ApiKey(brand_id=brand.id, label="shop", prefix="bp_live_x", key_hash="h" * 64)
    db.session.add(key)
    db.session.flush()

    def mail(status, created, body="Dear Anna, please pay INV-1."):
        return OutboxMessage(
            kind="reminder",
            recipient="anna@example.com",
            subject="Reminder INV-1",
            body_text=body,
            body_html=f"<p>{body}</p>",
            status=status,
            created_at=created,
            sent_at=created if status == "sent" else None,
        )

    rows = {
        "old_key": ApiIdempotency(api_key_id=key.id, key="a", request_hash="x", created_at=days(2)),
        "new_key": ApiIdempotency(
            api_key_id=key.id, key="b", request_hash="x", created_at=now - dt.timedelta(hours=1)
        ),
        "old_delivery": WebhookDelivery(provider="mollie", outcome="applied", received_at=days(91)),
        "stuck_delivery": WebhookDelivery(
            provider="mollie", outcome="queued", received_at=days(91)
        ),
        "new_delivery": WebhookDelivery(provider="mollie", outcome="applied", received_at=days(89)),
        "old_event": WebhookEvent(
            brand_id=brand.id,
            event="payment.paid",
            payload="{}",
            status="sent",
            created_at=days(91),
        ),
        "new_event": WebhookEvent(
            brand_id=brand.id, event="payment.paid", payload="{}", status="sent", created_at=days(5)
        ),
        "old_sent": mail("sent", days(91)),
        "old_pending": mail("pending", days(91)),  # not sent yet: it keeps what it says
        "new_sent": mail("sent", days(30)),
        "old_preview": TemplatePreview(
            token="old", admin_user_id=admin.id, html="<p>x</p>", created_at=days(1)
        ),
        "new_preview": TemplatePreview(token="new", admin_user_id=admin.id, html="<p>x</p>"),
    }
    db.session.add_all(rows.values())
    db.session.add(ImportJob(brand_id=brand.id, file_hash="b" * 64, status="queued"))
    db.session.commit()
    folder = Path(app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    stale, waited_for, fresh = (folder / f"{c * 64}.upload" for c in "abc")
    for path in (stale, waited_for, fresh):
        path.write_bytes(b"Factuurnummer;Naam\n1;Anna\n")
    two_days_ago = (now - dt.timedelta(days=2)).timestamp()
    for path in (stale, waited_for):
        os.utime(path, (two_days_ago, two_days_ago))

    purged = tasks.run_retention_now()

    assert (purged.idempotency_keys, purged.webhook_deliveries, purged.webhook_events) == (1, 1, 1)
    assert (purged.mail_bodies, purged.previews, purged.uploads) == (1, 1, 1)
    left = {name for name, row in rows.items() if db.session.get(type(row), _key(row))}
    assert left == set(rows) - {"old_key", "old_delivery", "old_event", "old_preview"}
    sent = db.session.get(OutboxMessage, rows["old_sent"].id)
    assert (sent.body_text, sent.body_html, sent.status) == ("", "", "sent")
    assert sent.recipient == "anna@example.com" and sent.sent_at is not None  # the record stays
    assert db.session.get(OutboxMessage, rows["old_pending"].id).body_text.startswith("Dear")
    assert db.session.get(OutboxMessage, rows["new_sent"].id).body_text.startswith("Dear")
    assert not stale.exists() and waited_for.exists() and fresh.exists()
    assert db.session.scalars(select(ApiIdempotency.key)).all() == ["b"]


def _key(row):
    return row.token if isinstance(row, TemplatePreview) else row.id
