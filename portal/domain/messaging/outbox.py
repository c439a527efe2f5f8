"""The outbox: messages are written in the business transaction and sent after commit."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.domain.messaging.email import Mail, PermanentFailure, TemporaryFailure, Transport
from portal.models import Brand, DebtorEmail, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# mails carrying a sign-in, reset or confirmation link: the worker writes them at each
# attempt and sends the bodies without storing them (see `Written`)
CREDENTIAL_KINDS = frozenset({"login_link", "admin_reset", "email_confirm"})
REDACTED_KINDS = CREDENTIAL_KINDS  # what the row shows once delivered
REDACTED_TEXT = "[The link in this message was removed after delivery.]"
LOGO_CID = "brand-logo"  # the layout's <img src="cid:brand-logo">, attached when sent


def queue_email(
    session: Session,
    *,
    kind: str,
    recipient: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    sender: str = "",
    debtor_id: int | None = None,
    brand_id: int | None = None,
    dedupe_key: str | None = None,
    render_key: str | None = None,
    render_data: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Add an email to the outbox in the caller's transaction.

    With `render_key` the subject and bodies stay empty: the worker renders them from
    `render_data` just before sending (see `send_pending`'s `render`). A credential mail
    (`CREDENTIAL_KINDS`) must be queued that way: its link is made when it is sent.
    """
    if kind in CREDENTIAL_KINDS and (body_text or body_html or not render_key):
        raise ValueError(f"a {kind} mail is written when sent: queue a render_key, no body")
    message = OutboxMessage(
        channel="email",
        kind=kind,
        recipient=recipient,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        sender=sender,
        debtor_id=debtor_id,
        brand_id=brand_id,
        dedupe_key=dedupe_key,
        render_key=render_key,
        render_data=render_data,
    )
    session.add(message)
    return message


def row_of(message: OutboxMessage, now: dt.datetime | None = None) -> dict[str, Any]:
    """A new message (not flushed) as a plain row with its defaults, for bulk inserts."""
    now = now or utcnow()
    return {
        "channel": message.channel or "email",
        "kind": message.kind,
        "recipient": message.recipient,
        "subject": message.subject or "",
        "body_text": message.body_text or "",
        "body_html": message.body_html or "",
        "sender": message.sender or "",
        "status": message.status or OutboxStatus.PENDING.value,
        "attempts": message.attempts or 0,
        "last_error": message.last_error or "",
        "dedupe_key": message.dedupe_key,
        "debtor_id": message.debtor_id,
        "brand_id": message.brand_id,
        "render_key": message.render_key,
        "render_data": message.render_data,
        "created_at": message.created_at or now,
        "next_attempt_at": message.next_attempt_at or now,
        "sent_at": message.sent_at,
    }


@dataclass
class SendResult:
    sent: int = 0
    kept_local: int = 0
    retried: int = 0
    failed: int = 0
    rate_limited: bool = False
    dropped: int = 0

    def count(self, status: str) -> None:
        """Count one message that ended in `status`."""
        if status == OutboxStatus.SENT:
            self.sent += 1
        elif status == OutboxStatus.LOCAL:
            self.kept_local += 1
        elif status == OutboxStatus.PENDING:
            self.retried += 1
        else:
            self.failed += 1


@dataclass(frozen=True)
class Written:
    """A message written for one attempt only: sent, never stored. A credential mail's
    link is made at each attempt, so the row keeps no usable link in any state and a
    retry sends a fresh one."""

    subject: str
    text: str
    html: str


Renderer = Callable[[Session, OutboxMessage], bool | Written]
"""Fills in a message queued with a render_key (or returns a `Written` to send without
storing); False when nothing is left to send."""


def send_pending(
    session_factory: Callable[[], Session],
    transport: Transport,
    *,
    now: Callable[[], dt.datetime] = utcnow,
    limit: int = 100,
    per_minute: int = 0,
    render: Renderer | None = None,
) -> SendResult:
    """Send due email messages one by one, each in its own short transaction.

    Messages are claimed a few at a time (`CLAIM`): marked `sending`, written and
    committed before the SMTP conversation, so a crash mid-send leaves visible `sending`
    rows for a person to look at instead of silent duplicates.
    `per_minute` (0: no limit) stops sending once that many went out in the last minute;
    the rest waits for the next call. A message queued for rendering is rendered by
    `render` in the claiming transaction, so the row keeps exactly what was sent.
    """
    try:
        return _send_batch(session_factory, transport, now, limit, per_minute, render)
    finally:
        transport.close()


CLAIM = 20  # messages claimed (and written) in one transaction


def _send_batch(
    session_factory: Callable[[], Session],
    transport: Transport,
    now: Callable[[], dt.datetime],
    limit: int,
    per_minute: int,
    render: Renderer | None,
) -> SendResult:
    result = SendResult()
    left = limit
    while left > 0:
        session = session_factory()
        try:
            room = min(left, CLAIM)
            if per_minute:
                room = min(room, per_minute - _sent_last_minute(session, now()))
                if room <= 0:
                    result.rate_limited = True
                    session.commit()
                    return result
            messages = _claim(session, now(), room)
            if not messages:
                session.commit()
                return result
            ready = []
            for message in messages:
                written: bool | Written = True
                if message.render_key and not message.body_text:
                    written = _render(session, message, render)
                if not written:
                    result.dropped += message.status == OutboxStatus.DROPPED
                    result.failed += message.status == OutboxStatus.FAILED
                    continue
                once = written if isinstance(written, Written) else None
                ready.append((message, _mail_of(session, message, once)))
            session.commit()  # claimed and written: a crash from here leaves them 'sending'
            for message, mail in ready:
                outcome = _deliver(transport, mail)
                _record(session, message, outcome, now())
                session.commit()
                result.count(outcome.status)
        finally:
            session.close()
        left -= len(messages)
    return result


def _mail_of(session: Session, message: OutboxMessage, once: Written | None = None) -> Mail:
    subject, text, html = (
        (once.subject, once.text, once.html)
        if once
        else (message.subject, message.body_text, message.body_html)
    )
    return Mail(
        sender=message.sender,
        recipient=message.recipient,
        subject=subject,
        text=text,
        html=html,
        message_id_hint=f"outbox-{message.id}",
        inline_images=_inline_images(session, message, html),
    )


def _render(session: Session, message: OutboxMessage, render: Renderer | None) -> bool | Written:
    """Write the message now; False (and a final status) when it is not to be sent."""
    try:
        if render is None:
            raise RuntimeError("no renderer for messages written when sent")
        written = render(session, message)
        if written:
            return written
        message.status = OutboxStatus.DROPPED
        message.last_error = "nothing left to ask for when it was time to send"
    except Exception as exc:  # a broken text must not leave the message in 'sending'
        log.exception("outbox %s: could not be written", message.id)
        message.status = OutboxStatus.FAILED
        message.last_error = f"could not be written: {exc}"[:1000]
    return False


def _inline_images(
    session: Session, message: OutboxMessage, html: str
) -> tuple[tuple[str, bytes, str], ...]:
    """The brand's logo, when the HTML shows it."""
    if message.brand_id is None or f"cid:{LOGO_CID}" not in html:
        return ()
    row = session.execute(
        select(Brand.logo, Brand.logo_mime).where(Brand.id == message.brand_id)
    ).first()
    if row is None or not row.logo or not row.logo_mime:
        return ()
    return ((LOGO_CID, row.logo, row.logo_mime),)


def _sent_last_minute(session: Session, now: dt.datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.sent_at > now - dt.timedelta(minutes=1))
        )
        or 0
    )


def _claim_next(session: Session, now: dt.datetime, channel: str = "email") -> OutboxMessage | None:
    claimed = _claim(session, now, 1, channel)
    return claimed[0] if claimed else None


def _claim(
    session: Session, now: dt.datetime, count: int, channel: str = "email"
) -> list[OutboxMessage]:
    """Mark the `count` oldest due messages of `channel` as sending (the caller commits);
    other workers skip the rows locked here."""
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)  # ix_outbox_message_due
        .limit(count)
        .with_for_update(skip_locked=True)
    )
    messages = list(session.scalars(stmt))
    for message in messages:
        message.status = OutboxStatus.SENDING
        message.attempts += 1
    return messages


@dataclass
class _Outcome:
    status: OutboxStatus
    error: str = ""
    permanent: bool = False  # the server refused the address itself (5xx)


def _deliver(transport: Transport, mail: Mail) -> _Outcome:
    try:
        local = transport.send(mail)
    except TemporaryFailure as exc:
        return _Outcome(OutboxStatus.PENDING, str(exc))
    except PermanentFailure as exc:
        return _Outcome(OutboxStatus.FAILED, str(exc), permanent=True)
    return _Outcome(OutboxStatus.LOCAL if local else OutboxStatus.SENT)


def _record(session: Session, message: OutboxMessage, outcome: _Outcome, now: dt.datetime) -> None:
    message.last_error = outcome.error
    if outcome.status == OutboxStatus.PENDING and message.attempts >= MAX_ATTEMPTS:
        outcome = _Outcome(OutboxStatus.FAILED, outcome.error)
    message.status = outcome.status
    if outcome.status == OutboxStatus.PENDING:
        backoff = dt.timedelta(seconds=30 * 2 ** (message.attempts - 1))
        message.next_attempt_at = now + backoff
        log.warning(
            "outbox %s: temporary failure, retry in %s: %s", message.id, backoff, outcome.error
        )
    elif outcome.status == OutboxStatus.SENT:
        message.sent_at = now
        if message.kind in REDACTED_KINDS:
            message.body_text = REDACTED_TEXT
            message.body_html = ""
    elif outcome.status == OutboxStatus.FAILED:
        log.error("outbox %s: giving up: %s", message.id, outcome.error)
        if outcome.permanent and message.channel == "email":
            _mark_bouncing(session, message.recipient, outcome.error, now)


def _mark_bouncing(session: Session, address: str, reason: str, now: dt.datetime) -> None:
    """A 5xx for an address: admin sees it on the debtor, until the address is changed."""
    session.execute(
        update(DebtorEmail)
        .where(DebtorEmail.email == address.lower(), DebtorEmail.bouncing_since.is_(None))
        .values(bouncing_since=now, bounce_reason=reason[:250])
    )
