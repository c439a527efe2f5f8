"""The outbox under faults: a worker killed mid-send, a mail server that answers 451 for
ten minutes, drops the connection or holds back its 250, and a queue of thousands."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, insert, select

from portal.db import db
from portal.domain.messaging import outbox
from portal.domain.messaging.email import Mail, SmtpSettings, SmtpTransport
from portal.models import OutboxMessage
from tests.conftest import free_port


def start() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)


def queue_many(count: int, prefix: str = "r") -> list[int]:
    ids = []
    for n in range(count):
        message = outbox.queue_email(
            db.session,
            kind="reminder",
            recipient=f"{prefix}{n}@example.com",
            subject=f"Reminder {n}",
            body_text="Please pay",
            sender="Brand <billing@brand.example.com>",
        )
        db.session.flush()
        ids.append(message.id)
    db.session.commit()
    return ids


def statuses() -> dict[str, int]:
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status: n for status, n in rows}


class Killed(BaseException):
    """The worker process dies (kill -9): nothing after this line runs."""


class Recording:
    def __init__(self, die_at: int = 0) -> None:
        self.sent: list[str] = []
        self.die_at = die_at

    def send(self, mail: Mail) -> bool:
        if self.die_at and len(self.sent) + 1 == self.die_at:
            raise Killed
        self.sent.append(mail.recipient)
        return False

    def close(self) -> None:
        pass


def smtp(port: int, **kw: float) -> SmtpTransport:
    return SmtpTransport(SmtpSettings("127.0.0.1", port, **kw))  # type: ignore[arg-type]


def test_a_worker_killed_mid_send_leaves_one_message_in_doubt_and_nothing_else(app):
    """The old worker claimed 20 at a time: killed at the third, 18 stayed 'sending' for
    good. Now one message is claimed at a time; when its lease runs out it is in doubt
    (for a person: resend, mark as sent or cancel) and everything else is sent."""
    queue_many(10)
    now = start()
    dying = Recording(die_at=3)
    with pytest.raises(Killed):
        outbox.send_pending(db.session, dying, now=lambda: now)
    db.session.remove()  # the process is gone: its session with it
    assert statuses() == {"sent": 2, "sending": 1, "pending": 7}
    # another worker, before the lease ran out: sends the rest, leaves the claimed one
    again = Recording()
    soon = now + dt.timedelta(minutes=1)
    assert outbox.send_pending(db.session, again, now=lambda: soon).sent == 7
    assert statuses() == {"sent": 9, "sending": 1}
    # the lease ran out without a result: in doubt, never sent again by itself
    later = now + outbox.LEASE + dt.timedelta(seconds=1)
    result = outbox.send_pending(db.session, Recording(), now=lambda: later)
    assert (result.in_doubt, result.sent) == (1, 0)
    doubt = db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "doubt")).one()
    assert doubt.recipient == "r2@example.com" and "not known" in doubt.last_error
    assert sorted(dying.sent + again.sent) == sorted(
        f"r{n}@example.com" for n in range(10) if n != 2
    )


def test_a_451_storm_of_ten_minutes_then_recovery_sends_everything_once(app, smtp_server):
    """Greylisting or throttling for ten minutes: the old back-off gave up after five
    attempts (7.5 minutes) and all of them ended 'failed'."""
    inbox, port = smtp_server
    inbox.clear()
    ids = queue_many(20, prefix="storm")
    begin = start()
    inbox.misbehave("451 4.7.1 Greylisted, please try again later")
    for minute in range(0, 61):  # the worker's round every minute, for an hour
        if minute == 10:
            inbox.misbehave()  # the server takes mail again
        moment = begin + dt.timedelta(minutes=minute)
        outbox.send_pending(db.session, smtp(port), now=lambda t=moment: t)
    assert statuses() == {"sent": 20}
    received = [str(m["To"]) for m in inbox.messages]
    assert sorted(received) == sorted(f"storm{n}@example.com" for n in range(20))  # once each
    attempts = db.session.scalars(select(OutboxMessage.attempts).where(OutboxMessage.id.in_(ids)))
    assert max(attempts) > 1  # the storm was felt


def test_a_250_that_comes_late_is_waited_for_not_sent_twice(app, smtp_server):
    """The server scans the mail before it answers; the old 20 s timeout (here 0.3 s for
    commands) gave up on the answer, retried, and the debtor got the mail twice."""
    inbox, port = smtp_server
    inbox.clear()
    queue_many(1, prefix="late")
    inbox.misbehave(reply_delay=1.0)
    now = start()
    transport = smtp(port, timeout=0.3, final_timeout=5.0)
    result = outbox.send_pending(db.session, transport, now=lambda: now)
    inbox.misbehave()
    later = now + dt.timedelta(hours=1)
    outbox.send_pending(db.session, smtp(port), now=lambda: later)
    assert result.sent == 1 and statuses() == {"sent": 1}
    assert len(inbox.to("late0@example.com")) == 1


def test_a_lost_acknowledgement_is_retried_with_the_same_message_id(app, smtp_server):
    """The server hangs up after taking the mail: nobody can know it arrived, so it is sent
    again, and both copies carry the same Message-ID for the receiver to recognise."""
    inbox, port = smtp_server
    inbox.clear()
    (message_id,) = queue_many(1, prefix="dropped")
    inbox.misbehave(drop_after_data=True)
    now = start()
    first = outbox.send_pending(db.session, smtp(port), now=lambda: now)
    assert first.retried == 1
    inbox.misbehave()
    later = now + dt.timedelta(minutes=1)
    assert outbox.send_pending(db.session, smtp(port), now=lambda: later).sent == 1
    copies = inbox.to("dropped0@example.com")
    row = db.session.get(OutboxMessage, message_id)
    assert len(copies) == 2
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"] == outbox.message_id(row)
    assert copies[0]["Message-ID"].endswith("@brand.example.com>")


def test_an_unreachable_server_stops_the_round_and_the_rest_waits(app):
    """Nobody listens: one message learns it, the others are not tried (each would wait
    for its own connection to fail) and keep their full retry window."""
    queue_many(5)
    now = start()
    result = outbox.send_pending(db.session, smtp(free_port(), timeout=1), now=lambda: now)
    assert result.server_down and result.retried == 1
    attempts = sorted(db.session.scalars(select(OutboxMessage.attempts)))
    assert attempts == [0, 0, 0, 0, 1] and statuses() == {"pending": 5}


def test_five_thousand_due_messages_drain_in_one_round_with_the_limit_off(app):
    """A send call used to stop after 100 messages: a 2,810-mail morning took 28 minutes."""
    now = start()
    rows = [
        outbox.row_of(
            OutboxMessage(
                kind="reminder",
                recipient=f"m{n}@example.com",
                subject="Reminder",
                body_text="Please pay",
                sender="billing@brand.example.com",
            ),
            now - dt.timedelta(minutes=1),
        )
        for n in range(5000)
    ]
    db.session.execute(insert(OutboxMessage), rows)
    db.session.commit()
    transport = Recording()
    result = outbox.send_pending(db.session, transport, now=lambda: now, per_minute=0)
    assert result.sent == 5000 and len(set(transport.sent)) == 5000
    assert statuses() == {"sent": 5000}
