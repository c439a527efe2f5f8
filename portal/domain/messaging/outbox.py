"""The outbox: messages are written in the business transaction and sent after commit."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.messaging.email import Mail, PermanentFailure, TemporaryFailure, Transport
from portal.domain.states import StateTable
from portal.models import Brand, DebtorEmail, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

M = OutboxStatus
# A message's state table: claimed, written, sent and recorded. A posted letter is written
# and "sent" (printed) in one step, so it moves from pending straight to its end.
MOVES = StateTable(
    "message",
    {
        M.PENDING: {M.SENDING, M.CANCELLED, M.SENT, M.FAILED, M.DROPPED},
        M.SENDING: {M.SENT, M.LOCAL, M.FAILED, M.DROPPED, M.PENDING, M.DOUBT},
        M.DOUBT: {M.PENDING, M.SENT, M.CANCELLED},  # a person decides (`resolve`)
        M.FAILED: {M.PENDING},  # sent again by a person
        M.SENT: (),
        M.LOCAL: (),
        M.DROPPED: (),
        M.CANCELLED: (),
    },
)


def move(message: OutboxMessage, new: OutboxStatus) -> None:
    """Move `message` to `new` through `MOVES` (`IllegalTransition` when it does not list it)."""
    MOVES.check(message.status, new)
    message.status = new


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
    in_doubt: int = 0  # leases that ran out without a result, found by this round
    server_down: bool = False  # the round stopped early: the server could not be reached

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

    def add(self, other: SendResult) -> SendResult:
        """The sum of two rounds (mail and SMS)."""
        return SendResult(
            sent=self.sent + other.sent,
            kept_local=self.kept_local + other.kept_local,
            retried=self.retried + other.retried,
            failed=self.failed + other.failed,
            rate_limited=self.rate_limited or other.rate_limited,
            dropped=self.dropped + other.dropped,
            in_doubt=self.in_doubt + other.in_doubt,
            server_down=self.server_down or other.server_down,
        )


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

# A claim holds for this long. Longer than the slowest conversation the transports allow
# (SMTP: 20 s per command and 5 minutes for the reply to the mail itself), so a lease runs
# out only when its worker is gone: the message is then in doubt, never sent twice blindly.
LEASE = dt.timedelta(minutes=15)
BACKOFF_FIRST = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(minutes=30)
RETRY_HOURS = 48  # OUTBOX_RETRY_HOURS: how long temporary failures are tried again
# consecutive temporary failures after which a round stops: the server is pushing back
# (throttling, greylisting at the relay), and the messages behind would only be refused too
PUSHBACK_STOP = 5
DOUBT_NOTE = "the worker stopped during sending: it is not known whether it went out"


@dataclass(frozen=True)
class Retry:
    """How long temporary failures are retried: `hours` from a message's first attempt."""

    hours: int = RETRY_HOURS

    def backoff(self, attempts: int) -> dt.timedelta:
        """30 s, 1 min, 2 min ... doubling up to 30 minutes between attempts."""
        return min(BACKOFF_FIRST * 2 ** min(max(attempts - 1, 0), 16), BACKOFF_CAP)

    def deadline(self, message: OutboxMessage, now: dt.datetime) -> dt.datetime:
        return (message.first_attempt_at or now) + dt.timedelta(hours=self.hours)


def send_pending(
    session_factory: Callable[[], Session],
    transport: Transport,
    *,
    now: Callable[[], dt.datetime] = utcnow,
    per_minute: int = 0,
    retry_hours: int = RETRY_HOURS,
    render: Renderer | None = None,
    limit: int = 0,
) -> SendResult:
    """Send every due email, one message at a time: claim it (`sending`, with a lease,
    committed), talk SMTP, record the outcome (committed).

    A worker that dies mid-send therefore leaves at most one message in `sending`; when
    its lease (`LEASE`) has run out, a later round marks it `doubt` for a person to
    resend, mark as sent or cancel (`resolve`). The round drains everything due,
    up to `per_minute` messages in any minute (0: no limit; the rest waits for the next
    round), and stops early when the server cannot be reached or keeps answering 4xx.
    Temporary failures come back with capped back-off for `retry_hours` from the first
    attempt; a 5xx fails at once. A message queued for rendering is rendered by `render`
    in the claiming transaction, so the row keeps exactly what was sent. `limit` (0: none)
    caps the round, for benchmarks.
    """
    try:
        return _send_round(
            session_factory(),
            transport,
            now,
            per_minute=per_minute,
            retry=Retry(retry_hours),
            render=render,
            limit=limit,
        )
    finally:
        transport.close()


def _send_round(
    session: Session,
    transport: Transport,
    now: Callable[[], dt.datetime],
    *,
    per_minute: int,
    retry: Retry,
    render: Renderer | None,
    limit: int,
) -> SendResult:
    result = SendResult()
    try:
        result.in_doubt = release_expired(session, now(), "email")
        session.commit()
        budget = _budget(session, now(), per_minute)
        pushback = 0
        handled = 0
        sent: tuple[OutboxMessage, _Outcome] | None = None
        while True:
            # one short transaction records the last message and claims the next, so a
            # worker never holds more than one message in 'sending' (half the commits)
            if sent is not None:
                done, outcome = sent
                sent = None
                _record(session, done, outcome, now(), retry)
                result.count(outcome.status)
                budget -= outcome.status == OutboxStatus.SENT
                pushback = pushback + 1 if outcome.status == OutboxStatus.PENDING else 0
                if outcome.server_down or pushback >= PUSHBACK_STOP:
                    result.server_down = outcome.server_down
                    log.warning("outbox: round stopped, the rest waits: %s", outcome.error)
                    break
            if limit and handled >= limit:
                break
            if per_minute and budget <= 0:
                budget = _budget(session, now(), per_minute)
                if budget <= 0:
                    result.rate_limited = True
                    break
            message = _claim_next(session, now())
            if message is None:
                break
            handled += 1
            written: bool | Written = not message.render_key or bool(message.body_text)
            if not written:
                written = _render(session, message, render)
            if not written:
                session.commit()
                result.dropped += message.status == OutboxStatus.DROPPED
                result.failed += message.status == OutboxStatus.FAILED
                continue
            once = written if isinstance(written, Written) else None
            mail = _mail_of(session, message, once)
            session.commit()  # claimed and written: from here a crash leaves it in doubt
            sent = (message, _deliver(transport, mail))
        session.commit()
    finally:
        session.close()
    return result


def _budget(session: Session, now: dt.datetime, per_minute: int) -> int:
    """How many more mails may go out in this minute (the limit minus the last minute's)."""
    if not per_minute:
        return 0
    return per_minute - _sent_last_minute(session, now)


def message_id(message: OutboxMessage) -> str:
    """The Message-ID of an outbox message: the same on every attempt, unique per row."""
    _name, address = parseaddr(message.sender)
    domain = address.rpartition("@")[2] or "betaalportaal.invalid"
    created = message.created_at or utcnow()
    return f"<outbox.{message.id}.{created:%Y%m%d%H%M%S}@{domain}>"


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
        message_id=message_id(message),
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
        move(message, OutboxStatus.DROPPED)
        message.last_error = "nothing left to ask for when it was time to send"
    except Exception as exc:  # a broken text must not leave the message in 'sending'
        log.exception("outbox %s: could not be written", message.id)
        move(message, OutboxStatus.FAILED)
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
            .where(
                OutboxMessage.channel == "email",
                OutboxMessage.sent_at > now - dt.timedelta(minutes=1),
            )
        )
        or 0
    )


def release_expired(session: Session, now: dt.datetime, channel: str) -> int:
    """Messages of `channel` whose lease ran out without a result become `doubt` (the
    caller commits); returns how many. Their worker died between claim and record, so
    nobody knows whether the server took them."""
    rows = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.status.in_(MOVES.sources(OutboxStatus.DOUBT)),
            or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < now - LEASE),
        )
        .values(status=OutboxStatus.DOUBT.value, last_error=DOUBT_NOTE)
        .returning(OutboxMessage.id)
    ).all()
    if rows:
        log.error("outbox: %s message(s) in doubt after a worker stopped: %s", len(rows), rows)
    return len(rows)


def _claim_next(session: Session, now: dt.datetime, channel: str = "email") -> OutboxMessage | None:
    """Mark the oldest due message of `channel` as sending with a lease from `now` (the
    caller commits); other workers skip the row locked here."""
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)  # ix_outbox_message_due
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    message = session.scalars(stmt).first()
    if message is not None:
        move(message, OutboxStatus.SENDING)
        message.attempts += 1
        message.claimed_at = now
        if message.first_attempt_at is None:
            message.first_attempt_at = now
    return message


@dataclass
class _Outcome:
    status: OutboxStatus
    error: str = ""
    permanent: bool = False  # the server refused the address itself (5xx)
    server_down: bool = False  # no conversation started: the rest of the round waits too


def _deliver(transport: Transport, mail: Mail) -> _Outcome:
    try:
        local = transport.send(mail)
    except TemporaryFailure as exc:
        return _Outcome(OutboxStatus.PENDING, str(exc), server_down=exc.server_down)
    except PermanentFailure as exc:
        return _Outcome(OutboxStatus.FAILED, str(exc), permanent=True)
    except Exception as exc:  # a mail that cannot even be built fails alone, not the round
        log.exception("outbox: could not send to %s", mail.recipient)
        return _Outcome(OutboxStatus.FAILED, f"could not be sent: {exc}"[:1000])
    return _Outcome(OutboxStatus.LOCAL if local else OutboxStatus.SENT)


def _record(
    session: Session,
    message: OutboxMessage,
    outcome: _Outcome,
    now: dt.datetime,
    retry: Retry | None = None,
) -> None:
    retry = retry or Retry()
    message.last_error = outcome.error
    status = outcome.status
    if status == OutboxStatus.PENDING:
        deadline = retry.deadline(message, now)
        if now >= deadline:
            status = OutboxStatus.FAILED
        else:
            message.next_attempt_at = min(now + retry.backoff(message.attempts), deadline)
            log.warning(
                "outbox %s: temporary failure, retry at %s: %s",
                message.id,
                message.next_attempt_at,
                outcome.error,
            )
    if status == OutboxStatus.SENT:
        mark_sent(message, now)
        return
    move(message, status)
    if status == OutboxStatus.LOCAL:
        message.sent_at = now  # kept in the local outbox: as delivered as it gets here
    elif status == OutboxStatus.FAILED:
        log.error("outbox %s: giving up: %s", message.id, outcome.error)
        if outcome.permanent and message.channel == "email":
            _mark_bouncing(session, message.recipient, outcome.error, now)


def mark_sent(message: OutboxMessage, when: dt.datetime) -> None:
    """Record `message` as delivered at `when`; bodies that held a credential are dropped."""
    move(message, OutboxStatus.SENT)
    message.sent_at = when
    if message.kind in REDACTED_KINDS:
        message.body_text = REDACTED_TEXT
        message.body_html = ""


def _mark_bouncing(session: Session, address: str, reason: str, now: dt.datetime) -> None:
    """A 5xx for an address: admin sees it on the debtor, until the address is changed."""
    session.execute(
        update(DebtorEmail)
        .where(DebtorEmail.email == address.lower(), DebtorEmail.bouncing_since.is_(None))
        .values(bouncing_since=now, bounce_reason=reason[:250])
    )


# ------------------------------------------------------------------- a person decides
DOUBT_ACTIONS: dict[str, tuple[OutboxStatus, ...]] = {
    # action: the statuses it applies to
    "resend": (OutboxStatus.DOUBT, OutboxStatus.FAILED),
    "mark_sent": (OutboxStatus.DOUBT,),
    "cancel": (OutboxStatus.DOUBT, OutboxStatus.PENDING),
}


@dataclass
class Resolved:
    """What `resolve` did: the messages changed, and those no longer in a state to."""

    done: list[int]
    skipped: list[int]


def resolve(
    session: Session, ids: Sequence[int], action: str, actor: str, now: dt.datetime
) -> Resolved:
    """An admin's decision on messages (in doubt, failed or waiting), one audit event each.

    `resend` queues it again at once (with a new retry window; the Message-ID stays, so a
    receiver can tell a second copy), `mark_sent` records it as delivered (someone checked
    with the recipient or the mail server's log), `cancel` means it is never sent. Rows are
    locked first; one another admin (or a worker) changed meanwhile is skipped.
    """
    allowed = DOUBT_ACTIONS.get(action)
    if allowed is None:
        raise ValueError(f"unknown outbox action {action!r}")
    wanted = sorted(set(ids))
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(wanted))
        .order_by(OutboxMessage.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    done = []
    for message in rows:
        if message.status not in allowed:
            continue
        was = message.status
        if action == "resend":
            move(message, OutboxStatus.PENDING)
            message.next_attempt_at = now
            message.first_attempt_at = None
        elif action == "mark_sent":  # it went out at its last attempt, if at all
            mark_sent(message, message.claimed_at or now)
        else:
            move(message, OutboxStatus.CANCELLED)
        audit.record(
            session,
            actor,
            f"outbox.{action}",
            message=message.id,
            was=str(was),
            recipient_debtor=message.debtor_id,
        )
        done.append(message.id)
    return Resolved(done, [i for i in wanted if i not in done])


def doubt_ids(session: Session, limit: int = 1000) -> list[int]:
    """The messages in doubt, oldest first (for a decision on all of them at once)."""
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == OutboxStatus.DOUBT)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
