"""Two admins decide one dispute at the same moment: one decision, one mail, one audit
line; the other admin gets a 409 page that says what happened, never a 500.

Two real sessions (threads, each with its own connection) on a committed database. The
first admin to reach the mail waits until the second is either past the same point (no
lock: the old behaviour) or waiting for the request's row lock (PostgreSQL shows it in
pg_stat_activity; SQLite serialises whole transactions, so there it just waits a moment).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text

from portal.db import db
from portal.domain import requests as req
from portal.mails.debtors import RequestMails
from portal.models import AuditEvent, DebtorRequest, Invoice, OutboxMessage
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import PG_URL, english_client
from tests.factories import create_admin, create_debtor, create_invoice
from tests.requests.test_requests import DUE

pytestmark = [pytest.mark.committed, pytest.mark.usefixtures("committed")]


def lock_waiters(url: str) -> Callable[[], int]:
    """How many sessions of the test database wait for a row lock right now."""
    if not PG_URL:
        return lambda: 0
    engine = create_engine(url)

    def count() -> int:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
                or 0
            )

    return count


@pytest.fixture
def rendezvous(app, monkeypatch):
    """Hold the first decision at the debtor's mail until the second one has caught up."""
    waiting = lock_waiters(app.config["SETTINGS"].database_url)
    arrived: list[str] = []
    original = RequestMails.update

    def update(self, session, request, answer):
        arrived.append(answer)
        deadline = time.monotonic() + (10 if PG_URL else 1.5)
        while len(arrived) < 2 and not waiting() and time.monotonic() < deadline:
            time.sleep(0.02)
        return original(self, session, request, answer)

    monkeypatch.setattr(RequestMails, "update", update)
    return arrived


def open_dispute() -> DebtorRequest:
    debtor = create_debtor()
    invoice = create_invoice(
        debtor, total_cents=12100, due_date=DUE, invoice_date=DUE.replace(day=1)
    )
    with db.session() as session:
        item = req.open_dispute(
            session,
            session.get(Invoice, invoice.id),
            "amount_wrong",
            "Twice billed",
            None,
            f"debtor:{debtor.id}",
            DUE,
        )
        session.commit()
        return item


def admin_client(app, email: str) -> FlaskClient:
    create_admin(email)
    client = english_client(app)
    admin_login(client, email)
    return client


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"outcome": "credit", "credit": "21,00"}, {"outcome": "credit", "credit": "21,00"}),
        ({"outcome": "credit", "credit": "21,00"}, {"outcome": "uphold"}),
        ({"outcome": "cancel"}, {"outcome": "credit", "credit": "121,00"}),
    ],
    ids=["credit-credit", "credit-uphold", "cancel-credit"],
)
def test_two_admins_deciding_one_dispute_give_one_decision_and_one_409(
    app, rendezvous, first, second
):
    item = open_dispute()
    clients = [admin_client(app, "anna@example.com"), admin_client(app, "ben@example.com")]
    forms = [
        {"csrf_token": page_csrf(c, f"/admin/requests/{item.id}"), "answer": f"By {n}", **form}
        for n, (c, form) in enumerate(zip(clients, (first, second), strict=True))
    ]
    db.session.remove()
    answers: dict[int, tuple[int, str]] = {}
    barrier = threading.Barrier(2)

    def decide(n: int) -> None:
        try:
            barrier.wait(10)
            response = clients[n].post(f"/admin/requests/{item.id}/decide", data=forms[n])
            answers[n] = (response.status_code, response.get_data(as_text=True))
        finally:
            db.session.remove()

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    codes = sorted(code for code, _html in answers.values())
    assert codes == [303, 409], codes
    loser = next(html for code, html in answers.values() if code == 409)
    assert "Someone else just decided this: request #" in loser
    assert "Betaalportaal admin" in loser  # the admin's layout, not a bare page
    winner = next(n for n, (code, _html) in answers.items() if code == 303)
    # one decision: one state change, one audit line, one mail to the debtor
    decisions = db.session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.action.in_(("request.credited", "request.cancelled", "request.upheld"))
        )
    ).all()
    assert len(decisions) == 1
    mails = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.debtor_id == item.debtor_id)
    ).all()
    assert len(mails) == 1 and f"By {winner}" in mails[0].body_text
    notes = db.session.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.kind == "credit_note")
    )
    invoice = db.session.get(Invoice, item.invoice_id)
    assert not (notes and invoice.status == "cancelled")  # never both cancelled and credited
    assert notes <= 1
