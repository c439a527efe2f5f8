"""Numbers typed into URLs, webhooks for a provider this deployment does not use, and what
a 500 page shows: a clean answer, never a server error with a traceback."""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import text

from portal.db import db
from portal.domain import invoices as inv
from portal.models import OutboxMessage
from tests.admin.test_admin import admin_login
from tests.conftest import login_as
from tests.factories import create_admin, create_debtor, create_invoice

HUGE = "99999999999999999999"
PAGED = [
    "/invoices",
    "/admin/invoices",
    "/admin/debtors",
    "/admin/payments",
    "/admin/plans",
    "/admin/requests",
    "/admin/outbox",
]


def signed_in_everywhere(client):
    debtor = create_debtor(emails=["anna@example.com"], name="Anna Visser")
    create_invoice(debtor, number="F-1")
    db.session.add(
        OutboxMessage(kind="test", recipient="anna@example.com", subject="Hello", body_text="x")
    )
    db.session.commit()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    login_as(client, debtor)
    return debtor


def test_huge_page_numbers_give_a_page_in_every_list(app, client):
    signed_in_everywhere(client)
    for path in PAGED:
        for page in (HUGE, "9223372036854775807", "2147483648", "-3", "²", "1" * 5000):
            answer = client.get(path, query_string={"page": page})
            assert answer.status_code == 200, (path, page[:30], answer.status_code)
    # the debtor's own list shows its last page: the invoice is there
    assert "F-1" in client.get("/invoices", query_string={"page": HUGE}).get_data(as_text=True)
    assert client.get("/admin/invoices", query_string={"days": "2147483647"}).status_code == 200
    # and every other page that takes no id, whatever it does with a page number
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments:
            if rule.rule == "/readyz":  # 503 here says no worker runs in this test
                continue
            answer = client.get(rule.rule, query_string={"page": HUGE})
            assert answer.status_code < 500, (rule.rule, answer.status_code)


def test_huge_ids_in_urls_are_not_found(app, client):
    signed_in_everywhere(client)
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or "<int:" not in rule.rule:
            continue
        path = re.sub(r"<int:\w+>", HUGE, rule.rule)
        path = re.sub(r"<(?:\w+:)?\w+>", "x", path)
        answer = client.get(path)
        assert answer.status_code == 404, (path, answer.status_code)


def test_a_webhook_for_a_provider_this_deployment_does_not_use(app, client, monkeypatch):
    stripe_only = dataclasses.replace(
        app.config["SETTINGS"],
        payment_provider="stripe",
        stripe_secret_key="sk_test_123",
        stripe_webhook_secret="whsec_123",
        mollie_api_key="",
    )
    monkeypatch.setitem(app.config, "SETTINGS", stripe_only)
    answer = client.post("/webhooks/mollie", data={"id": "tr_WDqYK6vllg"})
    assert answer.status_code == 404
    assert answer.get_data(as_text=True) == "not configured here"
    assert client.post("/webhooks/paypal", data={"id": "x"}).status_code == 404


def test_a_500_page_never_shows_a_traceback(app, client, monkeypatch):
    """An unexpected error (here a failing statement, which on PostgreSQL also spoils the
    transaction) gives the friendly page, nothing else; the page reads nothing from the
    database, so it cannot fail on the spoilt transaction either."""
    signed_in_everywhere(client)

    def broken(*args, **kwargs):
        db.session.execute(text("SELECT secret_column FROM no_such_table"))

    monkeypatch.setattr(inv, "list_invoices", broken)
    monkeypatch.setattr(inv, "admin_list", broken)
    # a debtor page, and an admin page whose error page reads the debtor for the first time
    for path in ("/invoices", "/admin/invoices"):
        answer = client.get(path)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 500, path
        assert "Something went wrong" in html
        for leak in ("Traceback", "no_such_table", "secret_column", ".py", "sqlalchemy"):
            assert leak not in html, (path, leak)
