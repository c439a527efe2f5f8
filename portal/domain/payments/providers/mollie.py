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
from mollie.api.error import NotFoundError

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
    euro_only_support,
    value_to_cents,
)
from portal.domain.payments.providers.registry import register

ID_RE = re.compile(r"^tr_\w{4,40}$")
TO_MOLLIE = {
    Method.IDEAL: "ideal",
    Method.BANCONTACT: "bancontact",
    Method.PAYPAL: "paypal",
    Method.CARD: "creditcard",
}
FROM_MOLLIE = {v: k for k, v in TO_MOLLIE.items()}
STATUSES = {s.value: s for s in Status}  # Mollie spells its statuses as we do


def is_public(url: str | None) -> bool:
    """Whether Mollie would accept `url` as a webhook: https-or-http to a public host."""
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "") or host.endswith((".localhost", ".test", ".local")):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return "." in host


class MollieProvider:
    """Satisfies `base.Provider` with Mollie's Payments API."""

    name = "mollie"
    methods = frozenset(TO_MOLLIE)

    def __init__(self, api_key: str, api_url: str = "") -> None:
        self.client = Client(api_endpoint=api_url, timeout=(3, 15), retry=1)
        try:
            self.client.set_api_key(api_key)
        except MollieError as exc:
            raise ProviderError("MOLLIE_API_KEY is missing or malformed") from exc

    def supports(self, method: Method, currency: str) -> bool:
        """iDEAL and Bancontact in euro only; PayPal and cards in more currencies."""
        return euro_only_support(self.methods, method, currency)

    def create(self, request: CheckoutRequest) -> Checkout:
        """POST /v2/payments; the checkout is Mollie's hosted page."""
        data: dict[str, Any] = {
            "amount": {"currency": request.currency, "value": cents_to_value(request.amount_cents)},
            "description": request.description,
            "redirectUrl": request.return_url,
            "locale": request.locale,
            "metadata": dict(request.metadata),
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
            raise ProviderError(f"Mollie refused the payment: {exc}") from exc
        return Checkout(payment.id, payment.checkout_url or "", _status(payment.status))

    def fetch(self, provider_ref: str) -> ProviderStatus:
        """GET /v2/payments/{id}; Ignored for an id Mollie does not know (404)."""
        try:
            payment = self.client.payments.get(provider_ref)
        except NotFoundError as exc:
            raise Ignored(f"Mollie does not know {provider_ref}") from exc
        except MollieError as exc:
            raise ProviderError(f"Mollie could not be asked: {exc}") from exc
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
        """`id=tr_...` or Forged; the state is learnt by fetching."""
        ref = request.form.get("id", "")
        if not ID_RE.match(ref):
            raise Forged("no Mollie payment id in the delivery")
        return ref


def _status(value: str | None) -> Status:
    status = STATUSES.get(value or "")
    if status is None or status in (Status.REFUNDED, Status.CHARGED_BACK, Status.CREATED):
        raise ProviderError(f"unexpected Mollie status {value!r}")
    return status


def _cents(amount: dict[str, str] | None) -> int:
    return value_to_cents(amount["value"]) if amount else 0


@register("mollie")
def _factory(settings: Settings) -> MollieProvider:
    return MollieProvider(settings.mollie_api_key, settings.mollie_api_url)
