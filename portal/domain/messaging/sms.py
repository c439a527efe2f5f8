"""SMS: providers behind one Protocol, queued in the outbox and sent after commit.

Domain code calls `queue_sms` in its own transaction; the worker calls `send_pending`
(through `tasks.send_outbox_now`), which claims one `sms` row at a time exactly like the
email sender: `pending` -> `sending` (committed, with a lease) -> provider -> `sent`/
`local`, `pending` with back-off (temporary trouble, for OUTBOX_RETRY_HOURS) or `failed`
with the reason (refused for good); a lease that runs out without a result is `doubt`.

Providers: `outbox` (development default: the text stays in the outbox, readable in admin)
and `twilio` (Twilio's REST API over urllib). A new provider is a class with `name`,
`local` and `send`, and a `@register("name")` factory; add the name to
`config.SMS_PROVIDERS`.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from portal.domain.messaging import outbox
from portal.models import OutboxMessage, OutboxStatus, utcnow

if TYPE_CHECKING:
    from portal.config import Settings

log = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


# ------------------------------------------------------------------------- providers
class TemporarySmsFailure(Exception):
    """The provider could not take the message now (5xx, timeout, no connection); retry."""


class PermanentSmsFailure(Exception):
    """The provider refused this message for good (4xx with an error code)."""


class SmsProvider(Protocol):
    """What every SMS provider offers."""

    name: str
    local: bool  # True: nothing leaves the server (the message is kept in the outbox)

    def send(self, to_e164: str, sender: str, text: str) -> str:
        """Hand one text to the provider; return its message id.

        Raises TemporarySmsFailure (try again later) or PermanentSmsFailure (never).
        """
        ...


_FACTORIES: dict[str, Callable[[Settings], SmsProvider]] = {}


def register(
    name: str,
) -> Callable[[Callable[[Settings], SmsProvider]], Callable[[Settings], SmsProvider]]:
    """Register a factory that builds the provider `name` from the settings."""

    def decorate(factory: Callable[[Settings], SmsProvider]) -> Callable[[Settings], SmsProvider]:
        _FACTORIES[name] = factory
        return factory

    return decorate


def provider_for(settings: Settings) -> SmsProvider:
    """The provider SMS_PROVIDER names (the settings were validated at start-up)."""
    try:
        factory = _FACTORIES[settings.sms_provider]
    except KeyError:
        raise ValueError(f"unknown SMS provider {settings.sms_provider!r}") from None
    return factory(settings)


@dataclass
class OutboxSmsProvider:
    """Development: the text stays in the outbox (status `local`) and is logged."""

    name: str = "outbox"
    local: bool = True
    kept: int = 0

    def send(self, to_e164: str, sender: str, text: str) -> str:
        self.kept += 1
        log.warning("SMS kept in the local outbox (SMS_PROVIDER=outbox) to %s: %s", to_e164, text)
        return f"local-{self.kept}"


TWILIO_API_URL = "https://api.twilio.com"
# not the message's fault: wrong credentials (fixable, so not every text fails for good),
# request timeout, conflict, too many requests
RETRYABLE_4XX = {401, 408, 409, 429}


@dataclass
class TwilioProvider:
    """Twilio's Programmable Messaging: POST {base}/2010-04-01/Accounts/{sid}/Messages.json
    with form fields To, From, Body and basic auth sid:token; 201 answers with the "sid"."""

    account_sid: str
    auth_token: str
    api_url: str = TWILIO_API_URL
    timeout: float = 15.0
    name: str = field(default="twilio", init=False)
    local: bool = field(default=False, init=False)

    def send(self, to_e164: str, sender: str, text: str) -> str:
        url = (
            f"{self.api_url.rstrip('/')}/2010-04-01/Accounts/"
            f"{quote(self.account_sid, safe='')}/Messages.json"
        )
        if not url.startswith(("https://", "http://")):
            raise PermanentSmsFailure(f"TWILIO_API_URL is not an http(s) address: {url}")
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url,
            data=urlencode({"To": to_e164, "From": sender, "Body": text}).encode(),
            method="POST",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except (OSError, http.client.HTTPException) as exc:  # timeouts, refused, reset
            raise TemporarySmsFailure(f"twilio unreachable: {exc}") from exc
        data = _json(body)
        if status in (200, 201) and isinstance(data.get("sid"), str):
            return str(data["sid"])
        reason = f"twilio {status}"
        if data.get("code") or data.get("message"):
            reason += f" (code {data.get('code')}): {data.get('message', '')}"
        if 400 <= status < 500 and status not in RETRYABLE_4XX:
            raise PermanentSmsFailure(reason)
        raise TemporarySmsFailure(reason)


def _json(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@register("outbox")
def _outbox(settings: Settings) -> SmsProvider:
    return OutboxSmsProvider()


@register("twilio")
def _twilio(settings: Settings) -> SmsProvider:
    return TwilioProvider(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        api_url=settings.twilio_api_url or TWILIO_API_URL,
    )


# ------------------------------------------------------------------------ quiet hours
@dataclass(frozen=True)
class SendWindow:
    """The hours of the day (local time) in which an SMS may go out."""

    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(20, 0)
    tz: str = "Europe/Amsterdam"


DAYTIME = SendWindow()  # the schedules' option "SMS only between 09:00 and 20:00"


def next_allowed(
    now_utc: dt.datetime,
    tz: str = "Europe/Amsterdam",
    start: dt.time = dt.time(9, 0),
    end: dt.time = dt.time(20, 0),
) -> dt.datetime:
    """The first moment at or after `now_utc` that lies in [start, end) local time (UTC).

    21:30 becomes 09:00 the next local day, 07:00 becomes 09:00 the same day; the local
    09:00 is found per day, so a change to or from summer time moves it correctly.
    """
    if now_utc.tzinfo is None:
        raise ValueError("next_allowed needs an aware datetime")
    zone = ZoneInfo(tz)
    local = now_utc.astimezone(zone)
    if start <= local.time() < end:
        return now_utc
    day = local.date() if local.time() < start else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, start, tzinfo=zone).astimezone(dt.UTC)


# ----------------------------------------------------------------------------- queue
def queue_sms(
    session: Session,
    *,
    kind: str,
    recipient: str,
    body: str,
    debtor_id: int | None = None,
    brand_id: int | None = None,
    dedupe_key: str | None = None,
    not_before: dt.datetime | None = None,
    window: SendWindow | None = None,
    sender: str = "",
    render_key: str | None = None,
    render_data: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Add an SMS to the outbox in the caller's transaction.

    `recipient` must be E.164 (`portal.domain.phones.normalise` makes it so). The text
    goes out at `not_before` (default: now); with `window` (e.g. `DAYTIME`) that moment
    moves to the next allowed hour, so a text queued at 21:30 leaves at 09:00 the next
    day. `sender` (an alphanumeric id or number) defaults to SMS_FROM when sent. With
    `render_key` the body may be empty: the worker writes it from `render_data` just
    before sending, as for email.
    """
    if not E164.match(recipient):
        raise ValueError(f"an SMS recipient must be an E.164 number, not {recipient!r}")
    when = not_before or utcnow()
    if window is not None:
        when = next_allowed(when, window.tz, window.start, window.end)
    message = OutboxMessage(
        channel="sms",
        kind=kind,
        recipient=recipient,
        subject=first_line(body),  # the admin outbox lists messages by subject
        body_text=body,
        sender=sender,
        debtor_id=debtor_id,
        brand_id=brand_id,
        dedupe_key=dedupe_key,
        next_attempt_at=when,
        render_key=render_key,
        render_data=render_data,
    )
    session.add(message)
    return message


def first_line(body: str, limit: int = 60) -> str:
    """The start of a text, for the outbox's subject column."""
    line = body.strip().splitlines()[0] if body.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ------------------------------------------------------------------------------ send
def send_pending(
    session_factory: Callable[[], Session],
    provider: SmsProvider,
    *,
    default_sender: str = "",
    now: Callable[[], dt.datetime] = utcnow,
    retry_hours: int = outbox.RETRY_HOURS,
    render: outbox.Renderer | None = None,
) -> outbox.SendResult:
    """Send every due SMS one at a time, under the email sender's rules (`outbox`): a
    claim with a lease committed before the provider is called, so a crash mid-call
    leaves one row that turns `doubt` when its lease runs out and is never sent again
    blindly; temporary trouble is retried for `retry_hours`; the round drains what is due
    and stops early when the provider keeps failing. A text queued with a render_key is
    written by `render` in the claiming transaction, like an email.
    """
    result = outbox.SendResult()
    retry = outbox.Retry(retry_hours)
    session = session_factory()
    try:
        result.in_doubt = outbox.release_expired(session, now(), "sms")
        session.commit()
        pushback = 0
        while True:
            message = outbox._claim_next(session, now(), channel="sms")
            if message is None:
                session.commit()
                return result
            if (
                message.render_key
                and not message.body_text
                and not outbox._render(session, message, render)
            ):
                session.commit()
                result.dropped += message.status == OutboxStatus.DROPPED
                result.failed += message.status == OutboxStatus.FAILED
                continue
            to, text = message.recipient, message.body_text
            sender = message.sender or default_sender
            message_id = message.id
            session.commit()
            outcome = _deliver(provider, message_id, to, sender, text)
            outbox._record(session, message, outcome, now(), retry)
            session.commit()
            result.count(outcome.status)
            pushback = pushback + 1 if outcome.status == OutboxStatus.PENDING else 0
            if pushback >= outbox.PUSHBACK_STOP:
                log.warning("sms: round stopped, the rest waits: %s", outcome.error)
                return result
    finally:
        session.close()


def _deliver(
    provider: SmsProvider, message_id: int, to: str, sender: str, text: str
) -> outbox._Outcome:
    try:
        reference = provider.send(to, sender, text)
    except TemporarySmsFailure as exc:
        return outbox._Outcome(OutboxStatus.PENDING, str(exc))
    except PermanentSmsFailure as exc:
        return outbox._Outcome(OutboxStatus.FAILED, str(exc), permanent=True)
    log.info("outbox %s: SMS handed to %s as %s", message_id, provider.name, reference)
    return outbox._Outcome(OutboxStatus.LOCAL if provider.local else OutboxStatus.SENT)


# -------------------------------------------------------------------------- segments
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")  # sent as ESC + char: two septets each


def sms_segments(text: str) -> tuple[int, int]:
    """How many SMS parts `text` takes, and how many characters fit in the last one.

    GSM-7 when every character is in the GSM 03.38 alphabet (extension characters such
    as € count double): 160 in one part, 153 per part when split. Otherwise UCS-2
    (UTF-16 units, so an emoji counts double): 70 in one part, 67 per part. A character
    is never split over two parts. `chars_left` counts plain characters of that encoding.
    """
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return _pack(units, 160, 153)
    units = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return _pack(units, 70, 67)


def _pack(units: list[int], single: int, part: int) -> tuple[int, int]:
    total = sum(units)
    if total <= single:
        return (1 if total else 0), single - total
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return segments, part - used
