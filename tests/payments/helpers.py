"""Helpers for payment tests: a sandbox payment started the way the portal starts one."""

from __future__ import annotations

import html
import re

from portal.db import db
from portal.domain.payments import service
from portal.domain.payments.providers import registry, sandbox
from portal.domain.payments.providers.base import Method, Status
from portal.models import Debtor, Invoice, Payment


def sandbox_provider(app):
    return registry.get("sandbox", app.config["SETTINGS"])


def started(app, debtor: Debtor, invoices: list[Invoice], amount: int | None = None) -> Payment:
    """A committed, open sandbox payment for `invoices`."""
    payment = service.start(
        db.session(),
        sandbox_provider(app),
        debtor,
        service.StartRequest([i.id for i in invoices], Method.IDEAL, amount),
        return_url=lambda ref: f"http://portal.test/pay/return/{ref}",
        webhook_url="http://portal.test/webhooks/sandbox",
        description=lambda rows: "test payment",
    )
    db.session.commit()
    return payment


def provider_says(payment: Payment, status: Status, **changes) -> None:
    """Move the sandbox's own record, as if the person or the bank did something."""
    record = sandbox.find(payment.provider_ref)
    assert record is not None
    record.status = status.value
    for key, value in changes.items():
        setattr(record, key, value)
    db.session.commit()


_REFRESH = re.compile(r'<meta http-equiv="refresh" content="0;url=([^"]+)">')


def checkout_of(client, response) -> str:
    """Where the browser ends up after the pay form: its 303 leads to the hand-off page on
    our own origin, which moves on to the provider's checkout by a meta refresh."""
    assert response.status_code == 303, response.status_code
    step = response.headers["Location"]
    assert "/pay/go/" in step, step
    page = client.get(step)
    assert page.status_code == 200
    found = _REFRESH.search(page.get_data(as_text=True))
    assert found is not None
    return html.unescape(found.group(1))
