"""The nightly recompute on a real database: settlement days read from the history, and
the tables the pages read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import db
from portal.domain import audit
from portal.domain.insight import refresh, settle
from portal.models import (
    DebtorAgeing,
    DebtorRating,
    InsightFigures,
    InvoicePrediction,
    InvoiceSettlement,
)
from tests.factories import create_brand, create_debtor, create_invoice

DAY = dt.date(2026, 11, 30)
TZ = "Europe/Amsterdam"


def moment(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def paid_invoice(debtor, due: dt.date, paid_on: dt.date, action="payment.received", **kw):
    invoice = create_invoice(
        debtor,
        invoice_date=due - dt.timedelta(days=14),
        due_date=due,
        status="paid",
        open_cents=0,
        **kw,
    )
    audit.record(db.session(), "system", action, invoice_id=invoice.id).at = moment(paid_on)
    db.session.commit()
    return invoice


def test_settlement_days_come_from_the_newest_money_event_in_the_business_time_zone(app):
    debtor = create_debtor()
    by_payment = paid_invoice(debtor, dt.date(2026, 10, 1), dt.date(2026, 10, 5))
    elsewhere = paid_invoice(
        debtor, dt.date(2026, 10, 1), dt.date(2026, 10, 20), "invoice.paid_elsewhere"
    )
    credited = paid_invoice(debtor, dt.date(2026, 10, 1), dt.date(2026, 10, 9), "request.credited")
    # 23:30 UTC on 31 October is already 1 November in Amsterdam
    late_evening = create_invoice(
        debtor, invoice_date=dt.date(2026, 10, 1), status="paid", open_cents=0
    )
    audit.record(
        db.session(), "system", "payment.received", invoice_id=late_evening.id
    ).at = dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)
    arrived_paid = create_invoice(debtor, status="paid", open_cents=0)  # no day known
    still_open = create_invoice(debtor)
    db.session.commit()

    assert settle.record(db.session(), TZ) == 5
    found = {
        s.invoice_id: (s.paid_on, s.how) for s in db.session.scalars(select(InvoiceSettlement))
    }
    assert found == {
        by_payment.id: (dt.date(2026, 10, 5), "paid"),
        elsewhere.id: (dt.date(2026, 10, 20), "paid"),
        credited.id: (dt.date(2026, 10, 9), "credit"),
        late_evening.id: (dt.date(2026, 11, 1), "paid"),
        arrived_paid.id: (None, "unknown"),
    }
    assert still_open.id not in found
    assert settle.record(db.session(), TZ) == 0  # kept, not read again

    by_payment.status, by_payment.open_cents = "open", by_payment.total_cents  # refunded
    db.session.commit()
    settle.record(db.session(), TZ)
    assert db.session.get(InvoiceSettlement, by_payment.id) is None


def test_the_recompute_fills_what_the_pages_read(app):
    brand = create_brand()
    prompt, slow = create_debtor(brand), create_debtor(brand)
    for months_back in range(2, 14):
        due = DAY - dt.timedelta(days=30 * months_back)
        paid_invoice(prompt, due, due - dt.timedelta(days=2))
        paid_invoice(slow, due, due + dt.timedelta(days=45))
    fresh = create_invoice(
        prompt, invoice_date=DAY - dt.timedelta(days=3), due_date=DAY + dt.timedelta(days=11)
    )
    overdue = create_invoice(
        slow,
        invoice_date=DAY - dt.timedelta(days=54),
        due_date=DAY - dt.timedelta(days=40),
        total_cents=50_000,
        open_cents=50_000,
    )
    result = refresh.run(db.session(), DAY, TZ)
    assert (result.invoices, result.settled, result.rated, result.predicted) == (26, 24, 2, 2)

    ratings = {r.debtor_id: r for r in db.session.scalars(select(DebtorRating))}
    assert ratings[prompt.id].grade == "good" and ratings[prompt.id].score == 100
    assert ratings[slow.id].grade == "poor"
    assert ratings[slow.id].factors[0][0] == "late"

    predictions = {p.invoice_id: p for p in db.session.scalars(select(InvoicePrediction))}
    # the prompt payer pays a couple of days before the due date; the slow one about 45
    # days after it, and its invoice is 40 days overdue already
    assert abs((predictions[fresh.id].predicted_on - fresh.due_date).days + 2) <= 3
    assert predictions[fresh.id].late_pct <= 20
    assert 0 <= (predictions[overdue.id].predicted_on - DAY).days <= 14
    assert predictions[overdue.id].late_pct == 100

    ageing = {a.debtor_id: a for a in db.session.scalars(select(DebtorAgeing))}
    assert ageing[slow.id].overdue_cents == 50_000
    assert ageing[slow.id].buckets[2] == [1, 50_000]  # 31-60 days
    assert ageing[prompt.id].overdue_cents == 0

    docs = {f.key: f.data for f in db.session.scalars(select(InsightFigures))}
    assert set(docs) == {"dso", "ageing", "forecast", "backtest", "meta"}
    assert docs["ageing"]["groups"]["all"][2] == [1, 50_000]
    assert len(docs["dso"]["months"]) == 12
    assert docs["dso"]["today"]["all"]["receivable"] == 50_000 + fresh.open_cents
    assert len(docs["forecast"]["weeks"]) == 13
    expected = sum(docs["forecast"]["expected"]) + docs["forecast"]["later"]
    assert abs(expected - (50_000 + fresh.open_cents)) <= 2  # every open cent placed once

    again = refresh.run(db.session(), DAY, TZ)  # a second run replaces, never doubles
    assert again.settled == 0
    assert len(list(db.session.scalars(select(DebtorRating)))) == 2


def test_the_command_line_recomputes_for_a_day(app):
    debtor = create_debtor()
    create_invoice(debtor, invoice_date=dt.date(2026, 10, 1), due_date=dt.date(2026, 10, 15))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["insight", "refresh", "--date", "2026-11-30"])
    assert result.exit_code == 0, result.output
    assert "1 invoices" in result.output and "1 open invoices predicted" in result.output
    figures = db.session.get(InsightFigures, "ageing")
    assert figures is not None and figures.data["day"] == "2026-11-30"
    assert runner.invoke(args=["insight", "refresh", "--date", "30-11-2026"]).exit_code == 2
