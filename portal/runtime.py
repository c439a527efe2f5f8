"""What the running app hands to routes, admin views and tasks: its settings, the business
day they define, the payment provider, the mail senders and the URLs built from them.

Named for what it holds: domain code takes these as arguments and never imports this
module (it needs the Flask app), so this is the one place that reads them off the app.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app

from portal.config import Settings
from portal.domain.clock import today
from portal.domain.payments.providers import registry
from portal.domain.payments.providers.base import Provider
from portal.mails import PaymentMails
from portal.models import Brand, PayLink


def settings() -> Settings:
    """The running app's settings."""
    settings_: Settings = current_app.config["SETTINGS"]
    return settings_


def business_today() -> dt.date:
    """Today in the business timezone (Europe/Amsterdam unless configured)."""
    return today(settings().portal_timezone)


def provider(name: str | None = None) -> Provider:
    """A provider by name (a payment's own), else the default from PAYMENT_PROVIDER."""
    return registry.get(name or settings().payment_provider, settings())


def provider_for_brand(brand: Brand) -> Provider:
    """The provider a brand's new payments use (today: the deployment's default)."""
    return provider()


def provider_for_link(brand: Brand, link: PayLink | None) -> Provider:
    """The provider for a payment started from `link`: the sandbox for a test-mode link made
    with an API test key, else the brand's."""
    if link is not None:
        from portal.db import db
        from portal.domain import api

        if api.test_mode_of(db.session(), link.id):
            return provider("sandbox")
    return provider_for_brand(brand)


def mails() -> PaymentMails:
    """Receipt and second-chance mails for this app."""
    return PaymentMails(settings())


def webhook_url(provider_name: str) -> str:
    """Where the provider posts its webhooks."""
    return f"{settings().base_url}/webhooks/{provider_name}"


def return_url(public_id: str) -> str:
    """Where the provider sends the debtor back to."""
    return f"{settings().base_url}/pay/return/{public_id}"
