"""SMS: queued in the outbox, sent through a provider (the local outbox or Twilio's REST API,
here a stub HTTP server in the test process), in the hours a schedule allows."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain.messaging import outbox, sms
from portal.models import OutboxMessage
from tests.conftest import free_port

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "tw-token"
AMS = "Europe/Amsterdam"


# ------------------------------------------------------------------------- the stub
@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class TwilioStub:
    """Answers POST .../Messages.json with the next queued (status, body), default 201."""

    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    delay: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply(self, status: int, body: dict[str, Any]) -> None:
        self.answers.append((status, body))


@pytest.fixture
def twilio() -> Iterator[TwilioStub]:
    stub = TwilioStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode()
            stub.requests.append(
                Seen(
                    "POST",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    parse_qs(raw),
                )
            )
            time.sleep(stub.delay)
            status, body = (
                stub.answers.pop(0)
                if stub.answers
                else (201, {"sid": f"SM{len(stub.requests):032d}", "status": "queued"})
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stub
    server.shutdown()
    server.server_close()


def provider(stub: TwilioStub, **kw: Any) -> sms.TwilioProvider:
    return sms.TwilioProvider(account_sid=SID, auth_token=TOKEN, api_url=stub.url, **kw)


def soon() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)


def queue(**kw: Any) -> OutboxMessage:
    values: dict[str, Any] = {
        "kind": "reminder",
        "recipient": "+31612345678",
        "body": "Uw factuur F-1 staat nog open: €12,50. Betaal via https://portal.test/p/x",
    }
    values.update(kw)
    message = sms.queue_sms(db.session, **values)
    db.session.commit()
    return message


def row(message: OutboxMessage) -> OutboxMessage:
    db.session.expire_all()
    found = db.session.get(OutboxMessage, message.id)
    assert found is not None
    return found


# ------------------------------------------------------------------------- Twilio
def test_twilio_gets_the_message_as_its_api_expects(app, twilio, caplog):
    message = queue(sender="Zonnestroom")
    caplog.set_level("INFO", logger="portal.domain.messaging.sms")
    result = sms.send_pending(db.session, provider(twilio), default_sender="+3197010203040")
    assert result.sent == 1
    (seen,) = twilio.requests
    assert seen.method == "POST"
    assert seen.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    scheme, _, encoded = seen.headers["authorization"].partition(" ")
    assert scheme == "Basic" and base64.b64decode(encoded).decode() == f"{SID}:{TOKEN}"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.form == {
        "To": ["+31612345678"],
        "From": ["Zonnestroom"],
        "Body": ["Uw factuur F-1 staat nog open: €12,50. Betaal via https://portal.test/p/x"],
    }
    sent = row(message)
    assert sent.status == "sent" and sent.attempts == 1 and sent.sent_at is not None
    assert f"SM{1:032d}" in caplog.text  # the provider's id, for support questions


def test_the_sender_defaults_to_sms_from(app, twilio):
    queue()
    sms.send_pending(db.session, provider(twilio), default_sender="Zonnestroom")
    assert twilio.requests[0].form["From"] == ["Zonnestroom"]


def test_a_refusal_with_an_error_code_fails_for_good(app, twilio):
    message = queue()
    twilio.reply(
        400,
        {"code": 21211, "message": "The 'To' number +31612345678 is not valid.", "status": 400},
    )
    result = sms.send_pending(db.session, provider(twilio))
    assert result.failed == 1
    failed = row(message)
    assert failed.status == "failed" and "21211" in failed.last_error
    # never tried again
    later = soon() + dt.timedelta(days=1)
    sms.send_pending(db.session, provider(twilio), now=lambda: later)
    assert len(twilio.requests) == 1


@pytest.mark.parametrize("status", [503, 500, 429, 401])
def test_provider_trouble_is_retried_with_backoff(app, twilio, status):
    message = queue()
    twilio.reply(status, {"code": 20500, "message": "Service unavailable"})
    now = soon()
    result = sms.send_pending(db.session, provider(twilio), now=lambda: now)
    assert result.retried == 1
    waiting = row(message)
    assert waiting.status == "pending" and waiting.attempts == 1
    assert waiting.next_attempt_at == now + dt.timedelta(seconds=30)
    assert str(status) in waiting.last_error
    # not due yet: nothing is sent
    sms.send_pending(db.session, provider(twilio), now=lambda: now + dt.timedelta(seconds=10))
    assert len(twilio.requests) == 1
    # due: sent now, with the second attempt
    later = now + dt.timedelta(seconds=31)
    assert sms.send_pending(db.session, provider(twilio), now=lambda: later).sent == 1
    done = row(message)
    assert done.status == "sent" and done.attempts == 2 and len(twilio.requests) == 2


def test_back_off_grows_is_capped_and_ends_in_failed_after_the_retry_window(app, twilio):
    message = queue()
    first = moment = soon()
    waits = []
    while row(message).status == "pending":
        twilio.reply(503, {})
        before = moment
        sms.send_pending(db.session, provider(twilio), now=lambda t=moment: t, retry_hours=3)
        current = row(message)
        if current.status == "pending":
            waits.append(current.next_attempt_at - before)
            moment = current.next_attempt_at
    seconds = (30, 60, 120, 240, 480, 960, 1800, 1800)
    assert waits[:8] == [dt.timedelta(seconds=s) for s in seconds]
    assert moment == first + dt.timedelta(hours=3) and row(message).status == "failed"


def test_no_connection_and_timeouts_are_temporary(twilio):
    closed = sms.TwilioProvider(SID, TOKEN, api_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(sms.TemporarySmsFailure):
        closed.send("+31612345678", "X", "hi")
    twilio.delay = 1.0
    with pytest.raises(sms.TemporarySmsFailure):
        provider(twilio, timeout=0.2).send("+31612345678", "X", "hi")


def test_the_default_timeout_is_fifteen_seconds():
    assert sms.TwilioProvider(SID, TOKEN).timeout == 15.0


def test_a_permanent_sms_failure_does_not_touch_email_bounces(app, twilio):
    from portal.models import DebtorEmail
    from tests.factories import create_debtor

    debtor = create_debtor(emails=["anna@example.com"], phone="+31612345678")
    queue(debtor_id=debtor.id)
    twilio.reply(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"})
    sms.send_pending(db.session, provider(twilio))
    address = db.session.scalars(
        select(DebtorEmail).where(DebtorEmail.debtor_id == debtor.id)
    ).one()
    assert address.bouncing_since is None


# ------------------------------------------------------------------------ the outbox
def test_the_outbox_provider_keeps_the_text_local_and_readable_in_admin(app, client):
    from tests.admin.test_admin import admin_login
    from tests.factories import create_admin

    message = queue(body="Herinnering: factuur F-1 staat open.")
    result = sms.send_pending(db.session, sms.OutboxSmsProvider())
    assert result.kept_local == 1 and result.sent == 0
    kept = row(message)
    assert kept.status == "local" and kept.channel == "sms"
    assert kept.body_text == "Herinnering: factuur F-1 staat open."
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    listing = client.get("/admin/outbox").get_data(as_text=True)
    assert "+31612345678" in listing and "Herinnering: factuur F-1 staat open." in listing


def test_email_and_sms_senders_leave_each_others_rows_alone(app, twilio):
    mail = outbox.queue_email(
        db.session, kind="test", recipient="anna@example.com", subject="Hi", body_text="Hi"
    )
    text = queue()

    class Recording:
        recipients: list[str] = []

        def send(self, mail: Any) -> bool:
            self.recipients.append(mail.recipient)
            return False

        def close(self) -> None:
            pass

    transport = Recording()
    assert outbox.send_pending(db.session, transport).sent == 1
    assert transport.recipients == ["anna@example.com"] and row(text).status == "pending"
    assert sms.send_pending(db.session, provider(twilio)).sent == 1
    assert [r.form["To"] for r in twilio.requests] == [["+31612345678"]]
    assert row(mail).status == "sent" and row(text).status == "sent"


def test_the_worker_task_and_the_cli_send_sms_too(app, twilio, inbox):
    from portal import tasks

    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(
        settings, sms_provider="twilio", twilio_api_url=twilio.url, sms_from="Zonnestroom"
    )
    try:
        outbox.queue_email(
            db.session,
            kind="test",
            recipient="anna@example.com",
            subject="Hi",
            body_text="Hi",
            sender="Brand <billing@brand.example.com>",
        )
        queue()
        result = tasks.send_outbox_now()
        assert result.sent == 2
        assert twilio.requests[0].form["From"] == ["Zonnestroom"]
        inbox.wait_for("anna@example.com")
        queue(recipient="+32470123456")
        output = app.test_cli_runner().invoke(args=["outbox", "send"]).output
        assert "sent 1" in output
        assert twilio.requests[1].form["To"] == ["+32470123456"]
    finally:
        app.config["SETTINGS"] = settings


def test_a_crash_between_claim_and_send_leaves_a_sending_row_not_resent(app):
    message = queue()

    class DiesMidCall:
        name, local = "dies", False
        calls = 0

        def send(self, to_e164: str, sender: str, text: str) -> str:
            DiesMidCall.calls += 1
            raise RuntimeError("worker killed mid-call")

    with pytest.raises(RuntimeError):
        sms.send_pending(db.session, DiesMidCall())
    stuck = row(message)
    assert stuck.status == "sending" and stuck.attempts == 1  # committed before the call
    within_lease = soon() + dt.timedelta(minutes=5)
    assert sms.send_pending(db.session, DiesMidCall(), now=lambda: within_lease).sent == 0
    assert row(message).status == "sending"
    # the lease ran out without a result: in doubt, for a person; still not resent
    later = soon() + dt.timedelta(days=1)
    assert sms.send_pending(db.session, DiesMidCall(), now=lambda: later).in_doubt == 1
    assert DiesMidCall.calls == 1 and row(message).status == "doubt"


def test_queue_sms_wants_e164():
    with pytest.raises(ValueError, match=r"E\.164"):
        sms.queue_sms(None, kind="x", recipient="06 12345678", body="hi")  # type: ignore[arg-type]


def test_providers_by_name(settings):
    assert isinstance(sms.provider_for(settings), sms.OutboxSmsProvider)
    twilio_settings = dataclasses.replace(
        settings, sms_provider="twilio", twilio_account_sid=SID, twilio_auth_token=TOKEN
    )
    chosen = sms.provider_for(twilio_settings)
    assert isinstance(chosen, sms.TwilioProvider) and chosen.api_url == sms.TWILIO_API_URL
    with pytest.raises(ValueError, match="unknown SMS provider"):
        sms.provider_for(dataclasses.replace(settings, sms_provider="pigeon"))


# ----------------------------------------------------------------------- quiet hours
def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # summer time (UTC+2): 21:30 local -> 09:00 local next day
        (utc(2026, 6, 10, 19, 30), utc(2026, 6, 11, 7, 0)),
        # inside the window: at once
        (utc(2026, 6, 10, 7, 0), utc(2026, 6, 10, 7, 0)),
        (utc(2026, 6, 10, 17, 59), utc(2026, 6, 10, 17, 59)),
        # 20:00 local sharp is outside; 06:00 local waits until 09:00 the same day
        (utc(2026, 6, 10, 18, 0), utc(2026, 6, 11, 7, 0)),
        (utc(2026, 6, 10, 4, 0), utc(2026, 6, 10, 7, 0)),
        # winter time (UTC+1)
        (utc(2026, 1, 15, 20, 30), utc(2026, 1, 16, 8, 0)),
        # Sat 24 Oct 2026 21:30 CEST -> Sun 25 Oct 09:00 CET: the clock went back overnight
        (utc(2026, 10, 24, 19, 30), utc(2026, 10, 25, 8, 0)),
        # Sat 28 Mar 2026 21:30 CET -> Sun 29 Mar 09:00 CEST: the clock went forward
        (utc(2026, 3, 28, 20, 30), utc(2026, 3, 29, 7, 0)),
        # 01:30 local in the night of the change (CEST still) -> 09:00 CET that morning
        (utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 8, 0)),
    ],
)
def test_next_allowed(now, expected):
    assert sms.next_allowed(now, AMS) == expected


def test_next_allowed_in_another_zone_and_window():
    brussels_like = sms.next_allowed(
        utc(2026, 6, 10, 19, 30), "Europe/London", dt.time(8), dt.time(21)
    )
    assert brussels_like == utc(2026, 6, 10, 19, 30)  # 20:30 in London is allowed till 21:00
    with pytest.raises(ValueError):
        sms.next_allowed(dt.datetime(2026, 6, 10, 12, 0), AMS)


def test_an_sms_queued_at_half_past_nine_in_the_evening_leaves_at_nine(app, twilio):
    evening = utc(2026, 10, 24, 19, 30)  # 21:30 in Amsterdam, before the clock goes back
    message = queue(not_before=evening, window=sms.DAYTIME)
    assert row(message).next_attempt_at == utc(2026, 10, 25, 8, 0)
    night = utc(2026, 10, 25, 7, 59)
    assert sms.send_pending(db.session, provider(twilio), now=lambda: night).sent == 0
    morning = utc(2026, 10, 25, 8, 0)
    assert sms.send_pending(db.session, provider(twilio), now=lambda: morning).sent == 1


def test_without_a_window_not_before_is_kept_as_given(app):
    at = utc(2026, 10, 24, 21, 0)
    assert row(queue(not_before=at)).next_attempt_at == at


# -------------------------------------------------------------------------- segments
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, 160)),
        ("a" * 160, (1, 0)),
        ("a" * 161, (2, 306 - 161)),
        ("a" * 306, (2, 0)),
        ("a" * 307, (3, 152)),
        ("€" * 80, (1, 0)),  # the euro sign is an extension character: two septets
        ("€" + "a" * 159, (2, 306 - 161)),
        ("Betaal €12,50 [F-1]", (1, 160 - 22)),  # € [ ] count double
        ("àéèùìòÄÖÜñ" * 16, (1, 0)),  # accents of the GSM alphabet stay GSM-7
        ("a" * 152 + "€", (1, 6)),
        ("a" * 152 + "€" + "a" * 7, (2, 153 - 7 - 2)),  # € is not split: it opens part 2
        ("Bedankt 👍", (1, 70 - 10)),  # an emoji switches to UCS-2, and counts double
        ("ç" * 70, (1, 0)),  # ç (lower case) is not GSM-7; Ç is
        ("Ç" * 70, (1, 90)),
        ("ç" * 71, (2, 134 - 71)),
        ("👍" * 34 + "aaa", (2, 62)),  # a surrogate pair is never split: the 34th opens part 2
    ],
)
def test_sms_segments(text, expected):
    assert sms.sms_segments(text) == expected
