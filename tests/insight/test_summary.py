"""The weekly summary: mailed through the outbox to the admins who asked for it, in their
language, once a week."""

from __future__ import annotations

import datetime as dt

from portal import tasks
from portal.db import db
from portal.domain import audit
from portal.domain.insight import refresh
from portal.domain.insight import summary as weekly
from portal.models import DebtorRequest, Invoice
from tests.conftest import body_text
from tests.factories import create_admin, create_brand, create_debtor, create_invoice

MONDAY = dt.date(2026, 11, 30)


def reader(email: str, language: str = "nl", wants: bool = True) -> None:
    """An admin who asked (or not) for the weekly summary."""
    user = create_admin(email)
    user.weekly_summary, user.language = wants, language
    db.session.commit()


def test_the_summary_tells_what_moved_this_week(app, inbox):
    brand = create_brand()
    debtor = create_debtor(brand, name="Piet Poor", number="K-77")
    # overdue now, but not yet a week ago (due three days ago)
    create_invoice(
        debtor,
        invoice_date=MONDAY - dt.timedelta(days=20),
        due_date=MONDAY - dt.timedelta(days=3),
        total_cents=40_000,
    )
    paid = create_invoice(
        debtor,
        invoice_date=MONDAY - dt.timedelta(days=30),
        due_date=MONDAY - dt.timedelta(days=16),
        total_cents=25_000,
        open_cents=0,
        status="paid",
    )
    audit.record(
        db.session(), "system", "payment.received", invoice_id=paid.id
    ).at = dt.datetime.combine(MONDAY - dt.timedelta(days=3), dt.time(9), tzinfo=dt.UTC)
    broken = create_invoice(debtor, invoice_date=MONDAY - dt.timedelta(days=40))
    db.session.add(
        DebtorRequest(
            kind="promise",
            debtor_id=debtor.id,
            invoice_id=broken.id,
            promise_date=MONDAY - dt.timedelta(days=2),
        )
    )
    db.session.add(DebtorRequest(kind="dispute", debtor_id=debtor.id, invoice_id=broken.id))
    db.session.commit()
    refresh.run(db.session(), MONDAY, "Europe/Amsterdam")

    figures = weekly.build(db.session(), MONDAY)
    assert figures is not None
    assert figures.open_cents == 40_000 + broken.total_cents
    # a week ago the paid invoice was still open and the 40,000 not yet overdue
    assert figures.open_before == figures.open_cents + 25_000
    assert figures.overdue_cents == figures.open_cents
    assert figures.overdue_before == broken.total_cents + 25_000
    assert (figures.paid_count, figures.paid_cents) == (1, 25_000)
    assert figures.promises_broken == 1 and figures.disputes_opened == 1
    assert figures.top[0][:3] == ("Piet Poor", "K-77", figures.open_cents)
    assert figures.waiting == {"promise": 1, "dispute": 1}

    reader("anne@example.com", "fr")
    reader("bert@example.com", "nl")
    reader("cor@example.com", wants=False)
    assert tasks.send_insight_summaries_now(MONDAY) == 2
    french = body_text(inbox.wait_for("anne@example.com"))
    dutch = inbox.wait_for("bert@example.com")
    assert "Ouvert" in french and "Piet Poor (K-77)" in french
    assert str(dutch["Subject"]).startswith("Debiteuren deze week")
    assert "1 factuur betaald" in body_text(dutch)
    assert not inbox.to("cor@example.com")
    # a second run in the same week sends nothing again
    assert tasks.send_insight_summaries_now(MONDAY + dt.timedelta(days=1)) == 0


def test_no_summary_before_the_first_recompute(app, inbox):
    reader("anne@example.com")
    assert tasks.send_insight_summaries_now(MONDAY) == 0
    assert db.session.query(Invoice).count() == 0
