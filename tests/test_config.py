import pytest

from portal.config import ConfigError, Settings

PROD = {
    "APP_ENV": "production",
    "SECRET_KEY": "s3cret",
    "BASE_URL": "https://pay.example.com",
    "SMTP_URL": "smtp://mail.example.com:587?starttls=1",
    "PAYMENT_PROVIDER": "mollie",
    "DATABASE_URL": "postgresql+psycopg://portal@db/portal",
}


def test_production_starts_with_everything_set():
    settings = Settings.from_env(PROD)
    assert settings.is_production and settings.https


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"BASE_URL": "http://pay.example.com"}, "BASE_URL"),
        ({"BASE_URL": "https://localhost"}, "BASE_URL"),
        ({"BASE_URL": "https://10.0.0.5"}, "BASE_URL"),
        ({"SMTP_URL": ""}, "SMTP_URL"),
        ({"PAYMENT_PROVIDER": "sandbox"}, "sandbox"),
    ],
)
def test_production_refuses_unsafe_setups(change, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**PROD, **change})


def test_create_app_refuses_production_without_secret(monkeypatch):
    from portal import create_app

    for key, value in {**PROD, "SECRET_KEY": ""}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_development_defaults(tmp_path):
    settings = Settings.from_env({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.db'}"
    assert settings.payment_provider == "sandbox"
    assert len(settings.secret_key) == 64
    again = Settings.from_env({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert again.secret_key == settings.secret_key  # generated once, then kept


def test_unknown_payment_provider_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="PAYMENT_PROVIDER"):
        Settings.from_env({"PORTAL_INSTANCE_PATH": str(tmp_path), "PAYMENT_PROVIDER": "paypal"})


def test_https_base_url_makes_the_session_cookie_secure(tmp_path):
    settings = Settings.from_env(
        {"PORTAL_INSTANCE_PATH": str(tmp_path), "BASE_URL": "https://pay.example.com"}
    )
    assert settings.https


def test_payment_timings_come_from_the_environment(tmp_path):
    settings = Settings.from_env(
        {"PORTAL_INSTANCE_PATH": str(tmp_path), "PAY_LINK_DAYS": "30", "SECOND_CHANCE_MINUTES": "0"}
    )
    assert settings.pay_link_days == 30 and settings.second_chance_minutes == 0
    with pytest.raises(ConfigError, match="PAY_LINK_DAYS must be a whole number from 1 to 365"):
        Settings.from_env({"PORTAL_INSTANCE_PATH": str(tmp_path), "PAY_LINK_DAYS": "sixty"})


TWILIO = {
    "SMS_PROVIDER": "twilio",
    "TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
    "TWILIO_AUTH_TOKEN": "token",
    "SMS_FROM": "Zonnestroom",
}


def test_production_with_twilio_starts_with_its_keys():
    settings = Settings.from_env({**PROD, **TWILIO})
    assert settings.sms_provider == "twilio" and settings.sms_from == "Zonnestroom"


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMS_FROM"])
def test_production_with_twilio_refuses_to_start_without_its_keys(missing):
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env({**PROD, **TWILIO, missing: ""})


def test_development_may_name_twilio_without_keys_and_unknown_sms_providers_are_refused(tmp_path):
    env = {"PORTAL_INSTANCE_PATH": str(tmp_path)}
    assert Settings.from_env({**env, "SMS_PROVIDER": "twilio"}).sms_provider == "twilio"
    assert Settings.from_env(env).sms_provider == "outbox"
    with pytest.raises(ConfigError, match="SMS_PROVIDER"):
        Settings.from_env({**env, "SMS_PROVIDER": "carrier-pigeon"})


def test_the_outbox_rate_and_retry_window_come_from_the_environment(tmp_path):
    base = {"PORTAL_INSTANCE_PATH": str(tmp_path)}
    default = Settings.from_env(base)
    assert (default.outbox_per_minute, default.outbox_retry_hours) == (600, 48)
    chosen = Settings.from_env({**base, "OUTBOX_PER_MINUTE": "0", "OUTBOX_RETRY_HOURS": "72"})
    assert (chosen.outbox_per_minute, chosen.outbox_retry_hours) == (0, 72)
    with pytest.raises(ConfigError, match="OUTBOX_RETRY_HOURS"):
        Settings.from_env({**base, "OUTBOX_RETRY_HOURS": "0"})
