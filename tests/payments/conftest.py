from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.payments.stubs import MollieStub, StripeStub


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
