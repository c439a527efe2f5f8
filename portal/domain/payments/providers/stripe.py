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
    checkout_origins,
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
METHOD_NAMES = frozenset(m.value for m in Method)
LOCALES = {"nl", "fr", "en"}  # the portal's languages; Stripe picks for anything else
CHECKOUT_ORIGINS = ("https://checkout.stripe.com",)  # hosted Checkout's `url`


class StripeProvider:
    """Satisfies `base.Provider` with Stripe Checkout Sessions."""

    name = "stripe"
    methods = frozenset(Method)  # Stripe's names equal ours: ideal, bancontact, paypal, card

    def __init__(self, secret_key: str, webhook_secret: str, api_url: str = "") -> None:
        if not secret_key:
            raise ProviderError("STRIPE_SECRET_KEY is not set")
        self.checkout_origins = checkout_origins(CHECKOUT_ORIGINS, api_url)
        # the debtor waits on create: fail in seconds, not after the SDK's default 80
        options: dict[str, Any] = {
            "max_network_retries": 0,
            "http_client": stripe.RequestsClient(timeout=(3, 15)),
        }
        if api_url:
            options["base_addresses"] = {"api": api_url.rstrip("/")}
        self.client = stripe.StripeClient(secret_key, **options)
        self.webhook_secret = webhook_secret

    def supports(self, method: Method, currency: str) -> bool:
        """iDEAL and Bancontact in euro only; PayPal and cards in more currencies."""
        return euro_only_support(self.methods, method, currency)

    def create(self, request: CheckoutRequest) -> Checkout:
        """A Checkout Session in payment mode for one line, expiring in an hour.

        Success and cancel both return to `return_url`, where the service checks the status;
        our reference travels as `client_reference_id` and in the metadata of the session
        and of its payment intent (so it shows on the charge in Stripe's dashboard).
        """
        methods = [request.method] if request.method else list(request.methods)
        metadata = {**request.metadata, "reference": request.reference}
        language = request.locale.replace("-", "_").split("_")[0].lower()
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
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "locale": language if language in LOCALES else "auto",
        }
        try:
            session = self.client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise _error(exc, "create the session") from exc
        if not session.url:
            raise ProviderError(f"Stripe gave no checkout URL for {session.id}")
        return Checkout(session.id, session.url, Status.OPEN)

    def fetch(self, provider_ref: str) -> ProviderStatus:
        """The session with its payment intent's latest charge, read as our status.

        Refunded cents are the charge's `amount_refunded`. Charged back counts only
        disputes that are *lost*: Stripe withholds the money while a dispute runs and gives
        it back when the dispute is won, and the service never undoes a chargeback, so an
        open dispute must not reopen the invoices yet. That costs one disputes call, made
        only when the charge says `disputed`.

        Raises `Ignored` for a session Stripe does not know (404) and `ProviderError`
        when Stripe cannot be asked.
        """
        try:
            session: dict[str, Any] = self.client.v1.checkout.sessions.retrieve(
                provider_ref, params={"expand": ["payment_intent.latest_charge"]}
            ).to_dict()
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise Ignored(f"Stripe does not know {provider_ref}") from exc
            raise _error(exc, f"read {provider_ref}") from exc
        except stripe.StripeError as exc:
            raise _error(exc, f"read {provider_ref}") from exc
        intent = session.get("payment_intent")
        if not isinstance(intent, dict):
            intent = None  # no attempt yet (or not expanded)
        charge = intent.get("latest_charge") if intent else None
        if not isinstance(charge, dict):
            charge = None
        method = None
        refunded = charged_back = 0
        if charge is not None:
            kind = (charge.get("payment_method_details") or {}).get("type", "")
            method = Method(kind) if kind in METHOD_NAMES else None
            refunded = int(charge.get("amount_refunded") or 0)
            if charge.get("disputed"):
                lost = self._lost_disputes(str(charge["id"]))
                charged_back = min(lost, int(charge.get("amount") or 0))
        return ProviderStatus(
            provider_ref=str(session["id"]),
            status=_status(session, intent),
            amount_cents=int(session.get("amount_total") or 0),
            currency=str(session.get("currency") or "").upper(),
            method=method,
            refunded_cents=refunded,
            charged_back_cents=charged_back,
            test_mode=not session.get("livemode", False),
        )

    def _lost_disputes(self, charge_id: str) -> int:
        """Cents of the charge's disputes that are lost (a charge has one or two at most)."""
        try:
            disputes = self.client.v1.disputes.list(params={"charge": charge_id, "limit": 100})
        except stripe.StripeError as exc:
            raise _error(exc, f"read the disputes of {charge_id}") from exc
        return sum(int(d.amount) for d in disputes.data if d.status == "lost")

    def parse_webhook(self, request: WebhookRequest) -> str:
        """Verify the signature; the Checkout Session id the event is about.

        Session events name the session; refund and dispute events name a payment intent,
        whose session is looked up (a network call: ProviderError when Stripe is down).
        Forged: no secret configured, no or a bad signature, a tampered or stale body.
        Ignored: other event types, and charges that did not come from a Checkout Session.
        """
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
            ref = obj.get("id")
            if not isinstance(ref, str) or not ref.startswith("cs_"):
                raise Ignored(f"Stripe event {kind} names no Checkout Session")
            return ref
        if kind in CHARGE_EVENTS:
            # a charge, or for dispute events a dispute: both name the payment intent, which
            # every Checkout payment has (none: not a charge of ours)
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
            raise _error(exc, f"find the session of {payment_intent}") from exc
        if not found.data:
            raise Ignored(f"no Checkout Session for {payment_intent}")
        return str(found.data[0].id)


def _status(session: dict[str, Any], intent: dict[str, Any] | None) -> Status:
    """Checkout Session + payment intent -> our status.

    An open session stays OPEN even after a declined attempt: the person can try again in
    the same checkout until it expires. A complete but unpaid session is a delayed method
    still processing (PENDING), unless its intent fell back to `requires_payment_method`
    (the async payment failed) or was canceled.
    """
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


def _error(exc: stripe.StripeError, doing: str) -> ProviderError:
    """A short message; Stripe's own text for a connection error runs to lines."""
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderError(f"Stripe could not be reached to {doing}")
    detail = exc.user_message or str(exc)
    return ProviderError(f"Stripe refused to {doing} ({exc.http_status}): {detail[:200]}")


@register("stripe")
def _factory(settings: Settings) -> StripeProvider:
    """The provider for `settings`; the API URL is overridden only in tests."""
    return StripeProvider(
        settings.stripe_secret_key, settings.stripe_webhook_secret, settings.stripe_api_url
    )
