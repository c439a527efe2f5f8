"""What every payment provider offers, in our own words.

A provider turns a `CheckoutRequest` into a hosted checkout, reports the current truth
about a payment (`fetch`), and reads a webhook delivery down to the provider's payment
reference (`parse_webhook`). The service never trusts what a webhook says about the
status: it always asks `fetch`, so duplicated, late or out-of-order deliveries all end
in the provider's current state.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from portal.models import PaymentStatus as Status

__all__ = ["Status"]  # providers speak of payment states by this name


class Method(enum.StrEnum):
    """Payment methods we offer, named the same for every provider."""

    IDEAL = "ideal"
    BANCONTACT = "bancontact"
    PAYPAL = "paypal"
    CARD = "card"


@dataclass(frozen=True)
class CheckoutRequest:
    """Everything a provider needs to open a hosted checkout for one payment."""

    reference: str  # our payment's public reference, echoed in metadata
    amount_cents: int
    currency: str  # ISO 4217, upper case
    description: str
    methods: tuple[Method, ...]  # offered, in the order to show them
    method: Method | None  # the debtor's choice, or None to let the checkout ask
    locale: str  # e.g. "nl_NL", "fr_BE", "en_US"
    return_url: str
    webhook_url: str | None  # None when BASE_URL is not public (Mollie refuses localhost)
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkout:
    """A created provider payment: where to send the debtor."""

    provider_ref: str  # tr_..., cs_..., sbx_...
    checkout_url: str
    status: Status = Status.OPEN


@dataclass(frozen=True)
class ProviderStatus:
    """The provider's current truth about one payment."""

    provider_ref: str
    status: Status  # paid even when (part of) it was refunded later: see the cents below
    amount_cents: int
    currency: str
    method: Method | None = None
    refunded_cents: int = 0
    charged_back_cents: int = 0
    test_mode: bool = False


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook delivery as received, free of any web framework."""

    body: bytes
    headers: Mapping[str, str]  # case-insensitive lookups are the caller's job: lower-case keys
    form: Mapping[str, str]


class ProviderError(Exception):
    """The provider could not be reached or refused the request; safe to show as 'try again'."""


class Forged(Exception):
    """A webhook delivery whose signature or shape is wrong: answer 400, change nothing."""


class Ignored(Exception):
    """A genuine webhook delivery about something we do not track (answer 200)."""


class Provider(Protocol):
    """A payment provider. Adding one means one new module and one registry line."""

    name: str
    methods: frozenset[Method]  # what this provider can offer at all
    # where `create()` sends the browser: the pay pages add these to their CSP form-action
    checkout_origins: tuple[str, ...]

    def supports(self, method: Method, currency: str) -> bool:
        """Whether `method` can be used for payments in `currency`."""
        ...

    def create(self, request: CheckoutRequest) -> Checkout:
        """Create the payment at the provider; raises ProviderError."""
        ...

    def fetch(self, provider_ref: str) -> ProviderStatus:
        """The payment's current state at the provider.

        Raises Ignored when the provider does not know the id (a forged or foreign
        webhook), ProviderError when it cannot be asked now (asking later may work).
        """
        ...

    def parse_webhook(self, request: WebhookRequest) -> str:
        """The provider_ref a delivery is about; raises Forged (answer 400), Ignored (200),
        or ProviderError (503) when finding the reference needs the provider (Stripe refunds)."""
        ...


_HOST_RE = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]*:[0-9a-f:.]*", re.ASCII)  # a name, or IPv6


def origin(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, as CSP source lists name sites; None for
    anything else (no scheme, another scheme, a host that is not a plain name or address)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not _HOST_RE.fullmatch(host):
        return None
    if ":" in host:
        host = f"[{host}]"  # urlsplit drops the brackets of an IPv6 address
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def checkout_origins(known: tuple[str, ...], api_url: str = "") -> tuple[str, ...]:
    """A provider's checkout origins: `known` ones, and that of an API URL override (the
    stand-ins that tests run serve the checkout from the API's own origin)."""
    override = origin(api_url) if api_url else None
    return known + ((override,) if override and override not in known else ())


EURO_ONLY = frozenset({Method.IDEAL, Method.BANCONTACT})


def euro_only_support(methods: frozenset[Method], method: Method, currency: str) -> bool:
    """iDEAL and Bancontact are euro-only at every provider; PayPal and card take more."""
    return method in methods and (method not in EURO_ONLY or currency == "EUR")


def cents_to_value(cents: int) -> str:
    """Provider amount strings such as Mollie's "19.99" (two decimals, no separators)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def value_to_cents(value: str) -> int:
    """Parse a provider amount string ("19.99", "-5.00", "10") into integer cents."""
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("+-").partition(".")
    return sign * (int(whole or "0") * 100 + int((frac + "00")[:2]))
