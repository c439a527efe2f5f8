"""Mollie through its official SDK (mollie-api-python).

Classic Mollie webhooks are an unsigned form post `id=tr_...`: we never trust them beyond
the id and fetch the payment to learn its state. Mollie has no refunded or charged-back
status; `amountRefunded` and `amountChargedBack` tell (DESIGN.md section 9). Mollie
refuses a webhook URL on localhost, so a non-public one is left out and the portal relies
on the status check at return and the periodic re-check.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from mollie.api.client import Client
from mollie.api.error import Error as MollieError
from mollie.api.error import NotFoundError, RequestError, RequestSetupError, ResponseError

from portal.config import Settings
from portal.domain.payments.providers.base import (
    Checkout,
    CheckoutRequest,
    Forged,
    Ignored,
    Method,
    ProviderError,
    ProviderStatus,
    Status,
    WebhookRequest,
    cents_to_value,
    checkout_origins,
    euro_only_support,
    value_to_cents,
)
from portal.domain.payments.providers.registry import register

# fullmatch, ASCII: `$` would let "tr_x\n" through and `\w` would accept any script
ID_RE = re.compile(r"tr_\w{4,64}", re.ASCII)
TO_MOLLIE = {
    Method.IDEAL: "ideal",
    Method.BANCONTACT: "bancontact",
    Method.PAYPAL: "paypal",
    Method.CARD: "creditcard",
}
FROM_MOLLIE = {v: k for k, v in TO_MOLLIE.items()}
STATUSES = {s.value: s for s in Status}  # Mollie spells its statuses as we do
# the hosted checkout (`_links.checkout`). The pay page's form-action is checked on each
# redirect of the form's navigation until a page loads; where that page sends the person
# next (a bank, PayPal) is a navigation of Mollie's page, outside our CSP
CHECKOUT_ORIGINS = ("https://www.mollie.com",)


# names that never resolve on the public internet (RFC 2606, 6761, 6762, 8375)
PRIVATE_SUFFIXES = (".localhost", ".test", ".invalid", ".local", ".internal", ".home.arpa", ".lan")


def is_public(url: str | None) -> bool:
    """Whether `url` is a webhook address Mollie can reach: https to a public host."""
    if not url:
        return False
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or not host or host == "localhost":
        return False
    if host.endswith(PRIVATE_SUFFIXES):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return "." in host  # a single-label name only resolves on a local network


class MollieProvider:
    """Satisfies `base.Provider` with Mollie's Payments API."""

    name = "mollie"
    methods = frozenset(TO_MOLLIE)

    def __init__(self, api_key: str, api_url: str = "") -> None:
        self.checkout_origins = checkout_origins(CHECKOUT_ORIGINS, api_url)
        self.client = Client(api_endpoint=api_url, timeout=(3, 15), retry=1)
        try:
            self.client.set_api_key(api_key)
        except MollieError as exc:
            raise ProviderError("MOLLIE_API_KEY is missing or malformed") from exc

    def supports(self, method: Method, currency: str) -> bool:
        """iDEAL and Bancontact in euro only; PayPal and cards in more currencies."""
        return euro_only_support(self.methods, method, currency)

    def create(self, request: CheckoutRequest) -> Checkout:
        """POST /v2/payments; the checkout is Mollie's hosted page.

        The SDK sends an Idempotency-Key. `webhookUrl` goes along only when it is a public
        https address: Mollie refuses localhost, and the service re-checks the status at
        return and periodically anyway.
        """
        data: dict[str, Any] = {
            "amount": {"currency": request.currency, "value": cents_to_value(request.amount_cents)},
            "description": request.description,
            "redirectUrl": request.return_url,
            "locale": request.locale,
            "metadata": {**request.metadata, "reference": request.reference},
            "method": (
                TO_MOLLIE[request.method]
                if request.method
                else [TO_MOLLIE[m] for m in request.methods]
            ),
        }
        if is_public(request.webhook_url):
            data["webhookUrl"] = request.webhook_url
        try:
            payment = self.client.payments.create(data)
        except MollieError as exc:
            raise _error(exc, "create the payment") from exc
        if not payment.checkout_url:
            raise ProviderError(f"Mollie gave no checkout link for {payment.id}")
        return Checkout(payment.id, payment.checkout_url, _status(payment.status))

    def fetch(self, provider_ref: str) -> ProviderStatus:
        """GET /v2/payments/{id}: the status, amounts refunded and charged back, the method.

        Raises `Ignored` when Mollie answers 404 (an id it does not know: a forged or
        foreign webhook), so the service can tell it from `ProviderError`, which means
        Mollie could not be asked (down, timeout, refused key) and asking later may work.
        """
        try:
            payment = self.client.payments.get(provider_ref)
        except NotFoundError as exc:
            raise Ignored(f"Mollie does not know {provider_ref}") from exc
        except MollieError as exc:
            raise _error(exc, f"read {provider_ref}") from exc
        amount = payment.amount or {}
        return ProviderStatus(
            provider_ref=payment.id,
            status=_status(payment.status),
            amount_cents=value_to_cents(amount.get("value", "0")),
            currency=amount.get("currency", ""),
            method=FROM_MOLLIE.get(payment.method or ""),
            refunded_cents=_cents(payment.amount_refunded),
            charged_back_cents=_cents(payment.amount_chargedback),
            test_mode=payment.mode == "test",
        )

    def parse_webhook(self, request: WebhookRequest) -> str:
        """`id=tr_...` from the unsigned form post, else Forged; the state is learnt by fetching.

        An id Mollie does not know passes here and is answered by `fetch` raising Ignored.
        """
        ref = request.form.get("id", "")
        if not ID_RE.fullmatch(ref):
            raise Forged("no Mollie payment id in the delivery")
        return ref


def _status(value: str | None) -> Status:
    """Mollie spells open, pending, authorized, paid, canceled, expired, failed as we do."""
    status = STATUSES.get(value or "")
    if status is None or status in (Status.REFUNDED, Status.CHARGED_BACK, Status.CREATED):
        raise ProviderError(f"unexpected Mollie status {value!r}")
    return status


def _error(exc: MollieError, doing: str) -> ProviderError:
    """A short message: the text requests gives for a refused connection runs to lines."""
    if isinstance(exc, ResponseError):
        return ProviderError(f"Mollie refused to {doing} ({exc.status}): {str(exc)[:200]}")
    if isinstance(exc, RequestError) and not isinstance(exc, RequestSetupError):
        return ProviderError(f"Mollie could not be reached to {doing}")
    return ProviderError(f"could not {doing} at Mollie: {str(exc)[:200]}")


def _cents(amount: dict[str, str] | None) -> int:
    """A Mollie amount object (`{"value": "5.00", "currency": "EUR"}`) or None in cents."""
    return value_to_cents(amount["value"]) if amount else 0


@register("mollie")
def _factory(settings: Settings) -> MollieProvider:
    """The provider for `settings`; the API URL is overridden only in tests."""
    return MollieProvider(settings.mollie_api_key, settings.mollie_api_url)
