"""Stripe Checkout through the official SDK (stripe-python).

Webhooks are verified by their signature (`STRIPE_WEBHOOK_SECRET`); the event only tells
which Checkout Session it is about, and `fetch` reads the session (with its payment
intent's latest charge) for the current truth. Sessions expire after an hour (DESIGN.md
section 9), so `checkout.session.expired` drives the second chance.
"""

from __future__ import annotations

import time
from typing import Any

import stripe

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
    euro_only_support,
)
from portal.domain.payments.providers.registry import register

SESSION_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
CHARGE_EVENTS = {"charge.refunded", "charge.dispute.created", "charge.dispute.closed"}
SESSION_SECONDS = 3600


class StripeProvider:
    """Satisfies `base.Provider` with Stripe Checkout Sessions."""

    name = "stripe"
    methods = frozenset(Method)  # Stripe's names equal ours: ideal, bancontact, paypal, card

    def __init__(self, secret_key: str, webhook_secret: str, api_url: str = "") -> None:
        if not secret_key:
            raise ProviderError("STRIPE_SECRET_KEY is not set")
        options: dict[str, Any] = {"max_network_retries": 0}
        if api_url:
            options["base_addresses"] = {"api": api_url.rstrip("/")}
        self.client = stripe.StripeClient(secret_key, **options)
        self.webhook_secret = webhook_secret

    def supports(self, method: Method, currency: str) -> bool:
        """iDEAL and Bancontact in euro only; PayPal and cards in more currencies."""
        return euro_only_support(self.methods, method, currency)

    def create(self, request: CheckoutRequest) -> Checkout:
        """A Checkout Session in payment mode, expiring in an hour."""
        methods = [request.method] if request.method else list(request.methods)
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount_cents,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "payment_method_types": [m.value for m in methods],
            "success_url": request.return_url,
            "cancel_url": request.return_url,
            "expires_at": int(time.time()) + SESSION_SECONDS,
            "client_reference_id": request.reference,
            "metadata": dict(request.metadata),
            "payment_intent_data": {"metadata": dict(request.metadata)},
            "locale": request.locale.split("_")[0],
        }
        try:
            session = self.client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe refused the session: {exc.user_message or exc}") from exc
        return Checkout(session.id, session.url or "", Status.OPEN)

    def fetch(self, provider_ref: str) -> ProviderStatus:
        """The session and its charge; Ignored for a session Stripe does not know.

        A charge counts as charged back as soon as it is disputed: Stripe takes the money
        when the dispute opens and returns it only if the dispute is won.
        """
        try:
            session: dict[str, Any] = self.client.v1.checkout.sessions.retrieve(
                provider_ref, params={"expand": ["payment_intent.latest_charge"]}
            ).to_dict()
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise Ignored(f"Stripe does not know {provider_ref}") from exc
            raise ProviderError(f"Stripe refused the request: {exc}") from exc
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe could not be asked: {exc}") from exc
        intent = session.get("payment_intent")
        charge = intent.get("latest_charge") if isinstance(intent, dict) else None
        if not isinstance(charge, dict):
            charge = None
        method = None
        if charge is not None:
            kind = (charge.get("payment_method_details") or {}).get("type", "")
            method = Method(kind) if kind in Method.__members__.values() else None
        refunded = int(charge.get("amount_refunded") or 0) if charge else 0
        charged_back = (
            int(charge.get("amount") or 0) - refunded if charge and charge.get("disputed") else 0
        )
        return ProviderStatus(
            provider_ref=str(session["id"]),
            status=_status(session, intent if isinstance(intent, dict) else None),
            amount_cents=int(session.get("amount_total") or 0),
            currency=str(session.get("currency") or "").upper(),
            method=method,
            refunded_cents=refunded,
            charged_back_cents=max(charged_back, 0),
            test_mode=not session.get("livemode", False),
        )

    def parse_webhook(self, request: WebhookRequest) -> str:
        """Verify the signature; the Checkout Session id the event is about."""
        signature = request.headers.get("stripe-signature")
        if not self.webhook_secret or not signature:
            raise Forged("unsigned Stripe event (or STRIPE_WEBHOOK_SECRET not set)")
        try:
            event = stripe.Webhook.construct_event(request.body, signature, self.webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise Forged(f"bad Stripe signature: {exc}") from exc
        payload = event.to_dict()
        kind = payload.get("type", "")
        obj = payload.get("data", {}).get("object", {})
        if kind in SESSION_EVENTS:
            return str(obj["id"])
        if kind in CHARGE_EVENTS:
            return self._session_of(str(obj.get("payment_intent") or ""))
        raise Ignored(f"Stripe event {kind} is not used")

    def _session_of(self, payment_intent: str) -> str:
        if not payment_intent:
            raise Ignored("event without a payment intent")
        try:
            found = self.client.v1.checkout.sessions.list(
                params={"payment_intent": payment_intent, "limit": 1}
            )
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe could not be asked: {exc}") from exc
        if not found.data:
            raise Ignored(f"no Checkout Session for {payment_intent}")
        return str(found.data[0].id)


def _status(session: dict[str, Any], intent: dict[str, Any] | None) -> Status:
    """Checkout Session + payment intent -> our status."""
    if session.get("status") == "expired":
        return Status.EXPIRED
    if session.get("status") == "complete":
        if session.get("payment_status") in ("paid", "no_payment_required"):
            return Status.PAID
        if intent and intent.get("status") == "canceled":
            return Status.CANCELED
        if intent and intent.get("status") == "requires_payment_method":
            return Status.FAILED  # an asynchronous method (a bank debit) failed
        return Status.PENDING
    return Status.OPEN


@register("stripe")
def _factory(settings: Settings) -> StripeProvider:
    return StripeProvider(
        settings.stripe_secret_key, settings.stripe_webhook_secret, settings.stripe_api_url
    )
