"""Retention: what the portal no longer needs is removed by a daily job (tasks.retention).

- API `Idempotency-Key`s older than RETENTION_IDEMPOTENCY_HOURS (a repeat after that is
  a new request);
- incoming webhook deliveries and outgoing webhook events (the logs) older than
  RETENTION_WEBHOOK_LOG_DAYS, once applied or delivered;
- the texts of mail and SMS that reached an end (sent, failed, dropped, cancelled)
  older than RETENTION_MAIL_BODY_DAYS: the row stays (who, what kind, when, the outcome:
  deadlines are counted from its sent time), its body goes;
- template previews older than PREVIEW_TTL;
- uploads nobody committed, older than RETENTION_UPLOAD_HOURS (never the file of an
  import job that is queued or running).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from portal.domain.imports.jobs import Uploads, waiting_files
from portal.models import (
    ApiIdempotency,
    OutboxMessage,
    OutboxStatus,
    TemplatePreview,
    WebhookDelivery,
    WebhookEvent,
)

PREVIEW_TTL = dt.timedelta(hours=1)  # the editor fetches a preview at once
ENDED = (
    OutboxStatus.SENT.value,
    OutboxStatus.LOCAL.value,
    OutboxStatus.FAILED.value,
    OutboxStatus.DROPPED.value,
    OutboxStatus.CANCELLED.value,
)


@dataclass(frozen=True)
class Periods:
    """How long each kind of record is kept (from Settings)."""

    mail_body: dt.timedelta
    webhook_log: dt.timedelta
    idempotency: dt.timedelta
    upload: dt.timedelta


@dataclass(frozen=True)
class Purged:
    idempotency_keys: int
    webhook_deliveries: int
    webhook_events: int
    mail_bodies: int
    previews: int
    uploads: int


def purge(session: Session, uploads: Uploads, now: dt.datetime, periods: Periods) -> Purged:
    """Remove what has expired (the caller commits); counts per kind."""
    keys = _changed(
        session, delete(ApiIdempotency).where(ApiIdempotency.created_at < now - periods.idempotency)
    )
    log_cutoff = now - periods.webhook_log
    deliveries = _changed(
        session,
        delete(WebhookDelivery).where(
            WebhookDelivery.received_at < log_cutoff, WebhookDelivery.outcome != "queued"
        ),
    )
    events = _changed(
        session,
        delete(WebhookEvent).where(
            WebhookEvent.created_at < log_cutoff, WebhookEvent.status.in_(("sent", "failed"))
        ),
    )
    bodies = _changed(
        session,
        update(OutboxMessage)
        .where(
            OutboxMessage.status.in_(ENDED),
            OutboxMessage.created_at < now - periods.mail_body,
            or_(OutboxMessage.body_text != "", OutboxMessage.body_html != ""),
        )
        .values(body_text="", body_html="")
        .execution_options(synchronize_session=False),
    )
    previews = _changed(
        session, delete(TemplatePreview).where(TemplatePreview.created_at < now - PREVIEW_TTL)
    )
    removed = purge_uploads(uploads, waiting_files(session), now, periods.upload)
    return Purged(
        idempotency_keys=keys,
        webhook_deliveries=deliveries,
        webhook_events=events,
        mail_bodies=bodies,
        previews=previews,
        uploads=removed,
    )


def _changed(session: Session, statement: Any) -> int:
    """Run a DELETE or UPDATE; how many rows it changed."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def purge_uploads(uploads: Uploads, busy: set[str], now: dt.datetime, age: dt.timedelta) -> int:
    """Remove upload files (and job progress files) older than `age`, except those of
    the uploads in `busy` (queued or running import jobs); how many were removed."""
    if not uploads.folder.is_dir():
        return 0
    cutoff = (now - age).timestamp()
    removed = 0
    for path in uploads.folder.iterdir():
        owner = path.name.split(".", 1)[0]
        if owner in busy:
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # removed meanwhile (a new upload made room)
            continue
    return removed
