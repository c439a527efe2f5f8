"""Email transports: real SMTP (SMTP_URL) or the local outbox with a console echo."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import TYPE_CHECKING, Protocol, cast
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)


class TemporaryFailure(Exception):
    """The server could not take the message now (4xx, connection trouble); retry later.

    `server_down`: no conversation could even start (refused, unreachable, a 4xx greeting),
    so the messages behind this one would fare no better now.
    """

    def __init__(self, reason: str, *, server_down: bool = False) -> None:
        super().__init__(reason)
        self.server_down = server_down


class PermanentFailure(Exception):
    """The server refused the message for good (5xx)."""


@dataclass(frozen=True)
class Mail:
    sender: str
    recipient: str
    subject: str
    text: str
    html: str = ""
    # stable per outbox message ("<...@domain>"), so a copy sent again after a lost
    # acknowledgement carries the same Message-ID and can be recognised as the same mail
    message_id: str = ""
    # images the HTML refers to as cid:<content_id>: (content_id, bytes, mime type)
    inline_images: tuple[tuple[str, bytes, str], ...] = ()


class Transport(Protocol):
    def send(self, mail: Mail) -> bool:
        """Deliver `mail`; return True when it was only kept locally."""
        ...

    def close(self) -> None:
        """Release what a batch of sends kept open."""
        ...


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in a raw mail, unlike base64
_QP = cast(str, _UTF8_QP)  # MIMEText takes a Charset too (typeshed says str)


def _one_line(value: str) -> str:
    """A header value without line breaks (no header injection from a text or an import)."""
    return " ".join(value.splitlines()).strip()


def _header(value: str) -> str | Header:
    value = _one_line(value)
    return value if value.isascii() else Header(value, "utf-8")


def _address(value: str) -> str:
    name, address = parseaddr(_one_line(value))
    return formataddr((name, address), charset="utf-8") if address else _one_line(value)


def build_message(mail: Mail) -> Message:
    """A MIME message with a plain-text part and, when given, an HTML alternative (with the
    images it shows inline). Built with the classic MIME classes: four times faster than
    EmailMessage's content manager, which counted for a quarter of each send."""
    text = MIMEText(mail.text, "plain", _QP)
    message: Message = text
    if mail.html:
        html: Message = MIMEText(mail.html, "html", _QP)
        if mail.inline_images:
            related = MIMEMultipart("related")
            related.attach(html)
            for content_id, data, mime in mail.inline_images:
                maintype, _, subtype = mime.partition("/")
                part: Message = (
                    MIMEImage(data, _subtype=subtype)
                    if maintype == "image"
                    else MIMEApplication(data, _subtype=subtype)
                )
                part["Content-ID"] = f"<{content_id}>"
                part["Content-Disposition"] = "inline"
                related.attach(part)
            html = related
        message = MIMEMultipart("alternative")
        message.attach(text)
        message.attach(html)
    message["From"] = _address(mail.sender)
    message["To"] = _address(mail.recipient)
    message["Subject"] = _header(mail.subject)  # type: ignore[assignment]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = mail.message_id or make_msgid()
    return message


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str = ""
    password: str = ""
    security: str = "none"  # none | starttls | ssl
    timeout: float = 20.0  # connecting and each command
    # the reply to the end of DATA: servers scan and store the mail before they answer
    # (RFC 5321 allows them 10 minutes); giving up early is what made duplicates
    final_timeout: float = 300.0

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Read smtp://user:pass@host:port, smtps://... or smtp://...?starttls=1."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        query = parse_qs(parts.query)
        security = "ssl" if parts.scheme == "smtps" else "none"
        if query.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            security = "starttls"
        default_port = 465 if security == "ssl" else 587 if security == "starttls" else 25
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or default_port,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            security=security,
        )


def _patient_data(
    smtp: _Smtp | _SmtpSsl, final_timeout: float, data: Callable[[], tuple[int, bytes]]
) -> tuple[int, bytes]:
    """smtplib's DATA with a longer socket timeout while the server works on the mail."""
    smtp.data_started = True
    if smtp.sock is not None:
        smtp.sock.settimeout(final_timeout)
    try:
        return data()
    finally:
        if smtp.sock is not None:
            smtp.sock.settimeout(smtp.timeout)


class _Smtp(smtplib.SMTP):
    final_timeout = 300.0
    data_started = False  # from DATA on, the server may have the mail: never send it again

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        return _patient_data(self, self.final_timeout, lambda: super(_Smtp, self).data(msg))


class _SmtpSsl(smtplib.SMTP_SSL):
    final_timeout = 300.0
    data_started = False

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        return _patient_data(self, self.final_timeout, lambda: super(_SmtpSsl, self).data(msg))


# the server closed a connection we kept open (idle timeout, a limit per connection)
_STALE = (smtplib.SMTPServerDisconnected, ConnectionError)


class SmtpTransport:
    """Sends over SMTP, keeping one connection open across a batch of messages.

    When a kept connection turns out closed before the mail's DATA began (the server hung
    up on an idle or much-used connection), the message goes once more over a fresh
    connection: nothing reached the server yet, so this can never make a duplicate. Any
    other failure drops the connection, so the next message starts on a fresh one.
    `close()` ends it after the batch.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: _Smtp | _SmtpSsl | None = None

    def _connect(self) -> _Smtp | _SmtpSsl:
        s = self.settings
        smtp: _Smtp | _SmtpSsl
        try:
            if s.security == "ssl":
                smtp = _SmtpSsl(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = _Smtp(s.host, s.port, timeout=s.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(_reason(exc), server_down=True) from exc
        smtp.final_timeout = s.final_timeout
        try:
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password)
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()  # wrong credentials: every message fails alike until fixed
            raise TemporaryFailure(_reason(exc), server_down=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise TemporaryFailure(_reason(exc), server_down=True) from exc
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def _send_once(self, message: Message) -> None:
        kept = self._smtp
        smtp = kept or self._connect()
        smtp.data_started = False
        try:
            smtp.send_message(message)
        except _STALE:
            if kept is None or smtp.data_started:
                raise
            self.close()
            fresh = self._connect()
            fresh.data_started = False
            fresh.send_message(message)

    def send(self, mail: Mail) -> bool:
        try:
            self._send_once(build_message(mail))
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _msg in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(str(exc.recipients)) from exc
            raise TemporaryFailure(str(exc.recipients)) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            if exc.smtp_code >= 500:
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise TemporaryFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except TemporaryFailure:
            self.close()
            raise
        except (OSError, smtplib.SMTPException) as exc:  # dropped, timed out, reset
            self.close()
            raise TemporaryFailure(_reason(exc)) from exc
        return False

    def close(self) -> None:
        """End the connection (QUIT when the server still answers)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error!r}"
    return str(exc) or exc.__class__.__name__


class LocalTransport:
    """Development: the mail stays in the outbox (readable in admin) and is echoed."""

    def send(self, mail: Mail) -> bool:
        log.warning(
            "Mail kept in the local outbox (no SMTP_URL) to %s: %s\n%s",
            mail.recipient,
            mail.subject,
            mail.text,
        )
        return True

    def close(self) -> None:
        """Nothing to release."""


def transport_for(smtp_url: str) -> Transport:
    """SMTP when SMTP_URL is set, else the local outbox."""
    return SmtpTransport(SmtpSettings.from_url(smtp_url)) if smtp_url else LocalTransport()
