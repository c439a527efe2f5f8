"""Settings read from the environment (DESIGN.md section 4), validated at start-up."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """Raised when the environment cannot run the portal; the message says what to set."""


PAYMENT_PROVIDERS = ("sandbox", "mollie", "stripe")
SMS_PROVIDERS = ("outbox", "twilio")
MAX_PROXIES = 5  # more hops than this in front of one portal is a typo, not a setup
LOG_FORMATS = ("text", "json")
_QUEUE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Settings:
    """Every knob of the portal. Built by `from_env`; tests build it directly."""

    app_env: str = "development"
    instance_path: Path = Path("instance")
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:5000"
    smtp_url: str = ""
    mail_from: str = "Betaalportaal <noreply@betaalportaal.local>"
    redis_url: str = ""
    payment_provider: str = "sandbox"
    mollie_api_key: str = ""
    mollie_api_url: str = ""
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_url: str = ""
    sms_provider: str = "outbox"
    sms_from: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_url: str = ""
    portal_timezone: str = "Europe/Amsterdam"
    login_token_minutes: int = 15
    session_idle_minutes: int = 30
    pay_link_days: int = 60
    second_chance_minutes: int = 60
    import_booking_lag_days: int = 14
    uploads_quota_mb: int = 1024  # kept import uploads, all together
    outbox_per_minute: int = 600  # 0: no limit
    outbox_retry_hours: int = 48  # temporary failures are tried again this long
    ratelimit_enabled: bool = True
    api_per_minute: int = 600  # requests per API key and minute
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-* headers count
    huey_immediate: bool = False
    # operations (README "Production"): metrics, logs, error reports, the queue, retention
    metrics_token: str = ""  # /metrics wants "Authorization: Bearer <token>" when set
    log_format: str = "text"  # "json": one JSON object a line, with the request id
    sentry_dsn: str = ""  # errors go to Sentry when set (needs the "sentry" extra)
    queue_name: str = "betaalportaal"  # Huey's name: its keys in Redis, its rows in SQLite
    morning_run_utc: dt.time = dt.time(7, 0)  # the daily dunning run
    retention_mail_body_days: int = 90  # bodies of delivered mail and texts
    retention_webhook_log_days: int = 90  # incoming webhook deliveries, outgoing events
    retention_idempotency_hours: int = 24  # API Idempotency-Keys are answered again this long
    retention_upload_hours: int = 24  # uploads nobody committed
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the environment; development fills in safe local defaults."""
        env = os.environ if env is None else env
        instance = Path(env.get("PORTAL_INSTANCE_PATH", "instance")).resolve()
        settings = cls(
            app_env=env.get("APP_ENV", "development"),
            instance_path=instance,
            database_url=env.get("DATABASE_URL", ""),
            secret_key=env.get("SECRET_KEY", ""),
            base_url=env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            smtp_url=env.get("SMTP_URL", ""),
            mail_from=env.get("MAIL_FROM", cls.mail_from),
            redis_url=env.get("REDIS_URL", ""),
            payment_provider=env.get("PAYMENT_PROVIDER", "sandbox"),
            mollie_api_key=env.get("MOLLIE_API_KEY", ""),
            mollie_api_url=env.get("MOLLIE_API_URL", ""),
            stripe_secret_key=env.get("STRIPE_SECRET_KEY", ""),
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET", ""),
            stripe_api_url=env.get("STRIPE_API_URL", ""),
            sms_provider=env.get("SMS_PROVIDER", "outbox"),
            sms_from=env.get("SMS_FROM", ""),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            twilio_api_url=env.get("TWILIO_API_URL", ""),
            portal_timezone=env.get("PORTAL_TIMEZONE", "Europe/Amsterdam"),
            pay_link_days=_int(env, "PAY_LINK_DAYS", 60, 1, 365),
            second_chance_minutes=_int(env, "SECOND_CHANCE_MINUTES", 60, 0, 7 * 24 * 60),
            import_booking_lag_days=_int(env, "IMPORT_BOOKING_LAG_DAYS", 14, 0, 365),
            uploads_quota_mb=_int(env, "UPLOADS_QUOTA_MB", 1024, 1, 10_000_000),
            outbox_per_minute=_int(env, "OUTBOX_PER_MINUTE", 600, 0, 1_000_000),
            outbox_retry_hours=_int(env, "OUTBOX_RETRY_HOURS", 48, 1, 24 * 30),
            api_per_minute=_int(env, "API_PER_MINUTE", 600, 1, 10_000_000),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0, 0, MAX_PROXIES),
            metrics_token=env.get("METRICS_TOKEN", ""),
            log_format=env.get("LOG_FORMAT", "text").strip().lower() or "text",
            sentry_dsn=env.get("SENTRY_DSN", "").strip(),
            queue_name=queue_name(env),
            morning_run_utc=morning_run_utc(env),
            retention_mail_body_days=_int(env, "RETENTION_MAIL_BODY_DAYS", 90, 1, 3650),
            retention_webhook_log_days=_int(env, "RETENTION_WEBHOOK_LOG_DAYS", 90, 1, 3650),
            retention_idempotency_hours=_int(env, "RETENTION_IDEMPOTENCY_HOURS", 24, 1, 24 * 365),
            retention_upload_hours=_int(env, "RETENTION_UPLOAD_HOURS", 24, 1, 24 * 90),
        )
        known = {f.name for f in fields(cls)}
        settings = replace(settings, **{k: v for k, v in overrides.items() if k in known})
        return settings.validated()

    def validated(self) -> Settings:
        """Fill development defaults and refuse an unsafe production setup."""
        if self.app_env not in ("production", "development"):
            raise ConfigError("APP_ENV must be 'production' or 'development'.")
        if self.payment_provider not in PAYMENT_PROVIDERS:
            raise ConfigError(f"PAYMENT_PROVIDER must be one of {', '.join(PAYMENT_PROVIDERS)}.")
        if self.sms_provider not in SMS_PROVIDERS:
            raise ConfigError(f"SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}.")
        if not 0 <= self.trusted_proxies <= MAX_PROXIES:
            raise ConfigError(f"TRUSTED_PROXIES must be a whole number from 0 to {MAX_PROXIES}.")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError("LOG_FORMAT must be 'text' or 'json'.")
        if self.sentry_dsn:
            try:
                import sentry_sdk  # noqa: F401
            except ImportError:
                raise ConfigError(
                    "SENTRY_DSN is set but sentry-sdk is not installed: "
                    "pip install 'betaalportaal[sentry]'."
                ) from None
        if self.is_production:
            problems = []
            if not self.secret_key:
                problems.append("SECRET_KEY is not set")
            if not _is_public_url(self.base_url):
                problems.append("BASE_URL must be the public https address of the portal")
            if not self.smtp_url:
                problems.append("SMTP_URL is not set (mail would never leave the server)")
            if self.payment_provider == "sandbox":
                problems.append("PAYMENT_PROVIDER must be mollie or stripe (sandbox is for tests)")
            if self.sms_provider == "twilio":
                problems.extend(
                    f"{name} is not set (SMS_PROVIDER=twilio)"
                    for name, value in (
                        ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                        ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                        ("SMS_FROM", self.sms_from),
                    )
                    if not value
                )
            if problems:
                raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")
            return self
        updates: dict[str, Any] = {}
        if not self.database_url:
            updates["database_url"] = f"sqlite:///{self.instance_path / 'portal.db'}"
        if not self.secret_key:
            updates["secret_key"] = _dev_secret(self.instance_path)
        return replace(self, **updates) if updates else self


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def queue_name(env: Mapping[str, str]) -> str:
    """QUEUE_NAME: the task queue's name, so several portals can share one Redis."""
    name = env.get("QUEUE_NAME", "").strip() or "betaalportaal"
    if not _QUEUE_NAME.match(name):
        raise ConfigError(
            "QUEUE_NAME must be 1-40 lower-case letters, digits, '-' or '_' (a letter or digit "
            "first)."
        )
    return name


def morning_run_utc(env: Mapping[str, str]) -> dt.time:
    """MORNING_RUN_UTC ("HH:MM", UTC): when the worker starts the daily dunning run."""
    raw = env.get("MORNING_RUN_UTC", "").strip() or "07:00"
    match = _HH_MM.match(raw)
    if not match:
        raise ConfigError("MORNING_RUN_UTC must be a time of day like 07:00 (UTC).")
    return dt.time(int(match.group(1)), int(match.group(2)))


def _is_public_url(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" or not host or host == "localhost":
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host
    return address.is_global


def _dev_secret(instance: Path) -> str:
    """A development secret generated once and kept in the instance folder."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
