from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from tests.payments.stubs import (
    MOLLIE_KEY,
    STRIPE_KEY,
    STRIPE_WEBHOOK_SECRET,
    MollieStub,
    StripeStub,
)


@pytest.fixture(scope="session")
def mollie_stub() -> Iterator[MollieStub]:
    stub = MollieStub()
    yield stub
    stub.stop()


@pytest.fixture(scope="session")
def stripe_stub() -> Iterator[StripeStub]:
    stub = StripeStub()
    yield stub
    stub.stop()


@pytest.fixture
def use_provider(app, monkeypatch, mollie_stub, stripe_stub) -> Callable[[str], None]:
    """Switch PAYMENT_PROVIDER for this test, Mollie and Stripe pointed at their stubs."""

    def switch(name: str) -> None:
        settings = dataclasses.replace(
            app.config["SETTINGS"],
            payment_provider=name,
            mollie_api_key=MOLLIE_KEY,
            mollie_api_url=mollie_stub.url,
            stripe_secret_key=STRIPE_KEY,
            stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
            stripe_api_url=stripe_stub.url,
        )
        monkeypatch.setitem(app.config, "SETTINGS", settings)

    return switch
