"""The offline sandbox provider: a hosted checkout inside the app, like Mollie's test mode.

The person on the checkout page picks the outcome (paid, failed, canceled, expired, or
leaves it open); the sandbox then posts `id=sbx_...` to our webhook, the way Mollie does,
and sends the person back. Its own records live in `sandbox_payment`, as a real provider
keeps its own. It never runs in production (the registry and the settings refuse it).
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select

from portal.config import Settings
from portal.db import db
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
    origin,
)
from portal.domain.payments.providers.registry import register
from portal.models import SandboxPayment

REF_RE = re.compile(r"^sbx_[A-Za-z0-9_-]{8,40}$")
OUTCOMES = (Status.PAID, Status.FAILED, Status.CANCELED, Status.EXPIRED, Status.OPEN)


class SandboxProvider:
    """Satisfies `base.Provider` with records in our own database."""

    name = "sandbox"
    methods = frozenset(Method)

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        # the checkout is a page of this app at BASE_URL ('self', unless the browser came
        # in by another name)
        own = origin(self.base_url)
        self.checkout_origins: tuple[str, ...] = (own,) if own else ()

    def supports(self, method: Method, currency: str) -> bool:
        """Same rules as the real providers: iDEAL and Bancontact only in euro."""
        return euro_only_support(self.methods, method, currency)

    def create(self, request: CheckoutRequest) -> Checkout:
        """Record the payment and point at the sandbox checkout page."""
        if request.amount_cents <= 0:
            raise ProviderError("amount must be positive")
        ref = "sbx_" + secrets.token_urlsafe(12)
        db.session.add(
            SandboxPayment(
                ref=ref,
                amount_cents=request.amount_cents,
                currency=request.currency,
                description=request.description,
                methods=",".join(m.value for m in request.methods),
                method=request.method.value if request.method else None,
                return_url=request.return_url,
                webhook_url=request.webhook_url or "",
                locale=request.locale,
            )
        )
        db.session.flush()
        return Checkout(ref, f"{self.base_url}/sandbox/checkout/{ref}", Status.OPEN)

    def fetch(self, provider_ref: str) -> ProviderStatus:
        """The sandbox record as a provider status; Ignored for an id it never issued."""
        record = find(provider_ref)
        if record is None:
            raise Ignored(f"unknown sandbox payment {provider_ref}")  # like Mollie's 404
        return ProviderStatus(
            provider_ref=record.ref,
            status=Status(record.status),
            amount_cents=record.amount_cents,
            currency=record.currency,
            method=Method(record.method) if record.method else None,
            refunded_cents=record.refunded_cents,
            charged_back_cents=record.charged_back_cents,
            test_mode=True,
        )

    def parse_webhook(self, request: WebhookRequest) -> str:
        """Unsigned form post `id=sbx_...`, answered by fetching (as with Mollie)."""
        ref = request.form.get("id", "")
        if not REF_RE.match(ref):
            raise Forged("no sandbox payment id in the delivery")
        return ref


def find(ref: str) -> SandboxPayment | None:
    """The sandbox's record of `ref`, or None."""
    return db.session.scalar(select(SandboxPayment).where(SandboxPayment.ref == ref))


def choose(record: SandboxPayment, outcome: Status, method: Method | None) -> None:
    """The person on the checkout page decided; only an open payment can change."""
    if outcome not in OUTCOMES:
        raise ValueError(outcome)
    if record.status != Status.OPEN:
        return
    record.status = outcome.value
    if method is not None:
        record.method = method.value


def refund(record: SandboxPayment, cents: int | None = None) -> None:
    """Refund a paid sandbox payment (all of it by default), as an admin would at Mollie."""
    if record.status != Status.PAID:
        raise ProviderError("only a paid payment can be refunded")
    left = record.amount_cents - record.refunded_cents
    record.refunded_cents += min(left, cents if cents is not None else left)


def charge_back(record: SandboxPayment) -> None:
    """The bank reverses a paid sandbox payment."""
    if record.status != Status.PAID:
        raise ProviderError("only a paid payment can be charged back")
    record.charged_back_cents = record.amount_cents - record.refunded_cents


@register("sandbox")
def _factory(settings: Settings) -> SandboxProvider:
    return SandboxProvider(settings.base_url)
