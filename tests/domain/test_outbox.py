import datetime as dt

import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain.messaging import outbox
from portal.domain.messaging.email import (
    LocalTransport,
    Mail,
    PermanentFailure,
    SmtpSettings,
    SmtpTransport,
    TemporaryFailure,
)
from portal.models import OutboxMessage


def soon() -> dt.datetime:
    """A moment after the message was queued (queue_email makes it due at once)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)


def queue(**kw):
    values = {
        "kind": "test",
        "recipient": "anna@example.com",
        "subject": "Hi",
        "body_text": "Hello Anna",
        "body_html": "<p>Hello <b>Anna</b></p>",
        "sender": "Brand <billing@brand.example.com>",
    }
    values.update(kw)
    message = outbox.queue_email(db.session, **values)
    db.session.commit()
    return message


def test_sends_over_real_smtp_with_text_and_html(app, inbox, settings):
    message = queue()
    result = outbox.send_pending(
        db.session, SmtpTransport(SmtpSettings.from_url(settings.smtp_url))
    )
    assert result.sent == 1
    received = inbox.wait_for("anna@example.com")
    assert received["From"] == "Brand <billing@brand.example.com>"
    assert received.get_body(preferencelist=("plain",)).get_content().strip() == "Hello Anna"
    assert "<b>Anna</b>" in received.get_body(preferencelist=("html",)).get_content()
    sent = db.session.get(OutboxMessage, message.id)
    assert sent.status == "sent" and sent.attempts == 1 and sent.sent_at is not None


def test_nothing_is_sent_twice(app, inbox, settings):
    queue()
    transport = SmtpTransport(SmtpSettings.from_url(settings.smtp_url))
    outbox.send_pending(db.session, transport)
    outbox.send_pending(db.session, transport)
    assert len(inbox.to("anna@example.com")) == 1


class Flaky:
    def __init__(self, error):
        self.error = error
        self.calls = 0

    def send(self, mail: Mail) -> bool:
        self.calls += 1
        raise self.error

    def close(self) -> None:
        pass


def test_temporary_failure_retries_later_with_backoff(app):
    message = queue()
    now = soon()
    result = outbox.send_pending(db.session, Flaky(TemporaryFailure("421 busy")), now=lambda: now)
    assert result.retried == 1
    row = db.session.get(OutboxMessage, message.id)
    assert row.status == "pending" and row.next_attempt_at == now + dt.timedelta(seconds=30)
    assert "421" in row.last_error
    # not due yet: nothing happens
    again = Flaky(TemporaryFailure("421 busy"))
    outbox.send_pending(db.session, again, now=lambda: now + dt.timedelta(seconds=10))
    assert again.calls == 0


def test_temporary_failures_are_retried_for_the_retry_window_then_given_up(app):
    """Mail servers retry for days: a 4xx keeps the message for OUTBOX_RETRY_HOURS (48 by
    default) from its first attempt, with back-off capped at 30 minutes; then it fails."""
    message = queue()
    first = soon()
    moment = first
    waits = []
    while db.session.get(OutboxMessage, message.id).status == "pending":
        outbox.send_pending(db.session, Flaky(TemporaryFailure("451")), now=lambda t=moment: t)
        row = db.session.get(OutboxMessage, message.id)
        if row.status == "pending":
            waits.append(row.next_attempt_at - moment)
            moment = row.next_attempt_at
    assert waits[:7] == [dt.timedelta(seconds=s) for s in (30, 60, 120, 240, 480, 960, 1800)]
    assert max(waits) == dt.timedelta(minutes=30)
    assert moment == first + dt.timedelta(hours=48)  # the last try is at the window's end
    row = db.session.get(OutboxMessage, message.id)
    assert row.status == "failed" and row.attempts == len(waits) + 1 and row.attempts > 90


def test_permanent_failure_is_not_retried(app):
    message = queue()
    outbox.send_pending(db.session, Flaky(PermanentFailure("550 no such user")))
    row = db.session.get(OutboxMessage, message.id)
    assert row.status == "failed" and "550" in row.last_error


def test_smtp_codes_are_classified(settings):
    transport = SmtpTransport(SmtpSettings(host="127.0.0.1", port=1, timeout=1))
    with pytest.raises(TemporaryFailure):  # nobody listens: try again later
        transport.send(Mail("a@b.c", "d@e.f", "s", "t"))


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.1.1 user unknown", PermanentFailure),
        ("451 4.7.1 greylisted, try again later", TemporaryFailure),
        ("421 4.3.2 service shutting down", TemporaryFailure),
    ],
)
def test_a_recipient_refused_with_5xx_is_permanent_and_4xx_temporary(smtp_server, reply, error):
    inbox, port = smtp_server
    inbox.clear()
    inbox.misbehave(reply)
    transport = SmtpTransport(SmtpSettings("127.0.0.1", port))
    try:
        with pytest.raises(error, match=reply[:3]):
            transport.send(Mail("a@b.c", "x@y.z", "s", "t"))
    finally:
        inbox.clear()
        transport.close()


def test_without_smtp_mail_stays_in_the_local_outbox(app):
    message = queue()
    result = outbox.send_pending(db.session, LocalTransport())
    assert result.kept_local == 1
    row = db.session.get(OutboxMessage, message.id)
    assert row.status == "local"
    assert row.body_text == "Hello Anna"  # readable in the admin outbox in development


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525, "", "", "none")),
        ("smtps://user:p%40ss@mail.example.com", ("mail.example.com", 465, "user", "p@ss", "ssl")),
        ("smtp://u:p@mail.example.com?starttls=1", ("mail.example.com", 587, "u", "p", "starttls")),
    ],
)
def test_smtp_url_forms(url, expected):
    s = SmtpSettings.from_url(url)
    assert (s.host, s.port, s.username, s.password, s.security) == expected


def test_claimed_but_unsent_message_is_not_resent_blindly(app):
    message = queue()
    row = db.session.get(OutboxMessage, message.id)
    row.status = "sending"  # a worker died mid-conversation (before leases: no claimed_at)
    db.session.commit()
    calls = Flaky(TemporaryFailure("x"))
    result = outbox.send_pending(db.session, calls)
    assert calls.calls == 0 and result.in_doubt == 1
    assert db.session.scalars(select(OutboxMessage.status)).one() == "doubt"


def test_a_refused_address_is_marked_bouncing_and_shown_to_admin(app, client):
    from portal.models import DebtorEmail
    from tests.admin.test_admin import admin_login
    from tests.factories import create_admin, create_debtor

    debtor = create_debtor(emails=["gone@example.com"])
    queue(recipient="gone@example.com")
    outbox.send_pending(db.session, Flaky(PermanentFailure("550 5.1.1 user unknown")))
    address = db.session.scalars(
        select(DebtorEmail).where(DebtorEmail.debtor_id == debtor.id)
    ).one()
    assert address.bouncing_since is not None and "550" in address.bounce_reason
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    page = client.get(f"/admin/debtors/{debtor.id}").get_data(as_text=True)
    assert "Mail to gone@example.com bounces since" in page


def test_a_temporary_failure_does_not_mark_the_address(app):
    from portal.models import DebtorEmail
    from tests.factories import create_debtor

    debtor = create_debtor(emails=["busy@example.com"])
    queue(recipient="busy@example.com")
    outbox.send_pending(db.session, Flaky(TemporaryFailure("421 busy")))
    address = db.session.scalars(
        select(DebtorEmail).where(DebtorEmail.debtor_id == debtor.id)
    ).one()
    assert address.bouncing_since is None


class Counting:
    def __init__(self):
        self.sent = 0

    def send(self, mail: Mail) -> bool:
        self.sent += 1
        return False  # delivered (not kept locally)

    def close(self) -> None:
        pass


def test_the_per_minute_limit_holds_the_rest_for_later(app):
    for n in range(5):
        queue(recipient=f"r{n}@example.com")
    transport = Counting()
    first = outbox.send_pending(db.session, transport, per_minute=3)
    assert first.sent == 3 and first.rate_limited
    later = soon() + dt.timedelta(minutes=2)
    second = outbox.send_pending(db.session, transport, per_minute=3, now=lambda: later)
    assert second.sent == 2 and transport.sent == 5


def test_one_smtp_connection_carries_a_batch_and_a_dropped_one_is_replaced(app, smtp_server):
    """Connections are reused across a batch; when the server closed one, the next
    message goes over a new connection instead of failing."""
    import socket

    from portal.domain.messaging.email import SmtpSettings, SmtpTransport

    inbox, port = smtp_server
    transport = SmtpTransport(SmtpSettings("127.0.0.1", port))
    first = Mail("a@example.com", "reuse-1@example.com", "One", "1")
    transport.send(first)
    connection = transport._smtp
    transport.send(Mail("a@example.com", "reuse-2@example.com", "Two", "2"))
    assert transport._smtp is connection  # the same connection
    connection.sock.shutdown(socket.SHUT_RDWR)  # as when the server hangs up on idle
    transport.send(Mail("a@example.com", "reuse-3@example.com", "Three", "3"))
    assert transport._smtp is not connection
    transport.close()
    for n in (1, 2, 3):
        assert inbox.wait_for(f"reuse-{n}@example.com")
