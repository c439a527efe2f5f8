"""The predictor and the backtest on generated histories whose true delays are known."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from portal.domain.insight import backtest
from portal.domain.insight.book import OPEN, PAID, Book
from portal.domain.insight.predict import Curve, fit, kaplan_meier

TODAY = dt.date(2026, 11, 30)


def spearman(xs: list[float], ys: list[float]) -> float:
    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        for rank, i in enumerate(order):
            out[i] = rank
        return out

    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mean = (n - 1) / 2
    cov = sum((a - mean) * (b - mean) for a, b in zip(rx, ry, strict=True))
    var = sum((a - mean) ** 2 for a in rx)
    return cov / var


def history(
    rng: random.Random, debtors: dict[int, object], delay, per_debtor: int, days: int = 720
) -> Book:
    """Invoices over `days` days before TODAY, paid `delay(rng, truth)` days after their
    due date (a payment still to come stays open). Debtor ids are the keys of `debtors`."""
    book = Book(TODAY)
    n = 0
    for debtor_id, truth in debtors.items():
        for k in range(per_debtor):
            n += 1
            invoiced = TODAY - dt.timedelta(days=days - k * days // per_debtor + rng.randint(0, 9))
            due = invoiced + dt.timedelta(days=14)
            paid = due + dt.timedelta(days=delay(rng, truth))
            paid = max(paid, invoiced)
            settled = paid < TODAY
            book.add(
                invoice_id=n,
                debtor_id=debtor_id,
                brand_id=1,
                segment_id=1,
                invoice_date=invoiced,
                due_date=due,
                total_cents=rng.choice([5_000, 12_000, 40_000]),
                open_cents=0 if settled else 12_000,
                status=PAID if settled else OPEN,
                paid_on=paid if settled else None,
            )
    return book


def with_new_invoices(book: Book, count: int = 1) -> dict[int, list[int]]:
    """Give each debtor `count` invoices issued today (due in 14 days); their rows."""
    rows: dict[int, list[int]] = {}
    old = list(book.debtors())
    fresh = Book(TODAY)
    n = 10_000_000
    for debtor_id, debtor_rows in old:
        for row in debtor_rows:
            fresh.add(
                invoice_id=book.ids[row],
                debtor_id=debtor_id,
                brand_id=1,
                segment_id=1,
                invoice_date=dt.date.fromordinal(book.invoiced[row]),
                due_date=dt.date.fromordinal(book.due[row]),
                total_cents=book.total[row],
                open_cents=book.open[row],
                status=book.status[row],
                paid_on=dt.date.fromordinal(book.paid[row]) if book.paid[row] else None,
            )
        for _ in range(count):
            n += 1
            rows.setdefault(debtor_id, []).append(
                fresh.add(
                    invoice_id=n,
                    debtor_id=debtor_id,
                    brand_id=1,
                    segment_id=1,
                    invoice_date=TODAY,
                    due_date=TODAY + dt.timedelta(days=14),
                    total_cents=10_000,
                    open_cents=10_000,
                )
            )
    book.__dict__.update(fresh.__dict__)
    return rows


def test_kaplan_meier_counts_open_invoices_for_the_days_they_are_open():
    # paid on days 1 and 3; one still unpaid after day 2 (it leaves the count after day 2)
    curve = kaplan_meier([(1, 1.0, True), (2, 1.0, False), (3, 1.0, True)])
    assert curve(0) == 1.0
    assert curve(1) == pytest.approx(2 / 3)
    assert curve(2) == pytest.approx(2 / 3)
    assert curve(3) == 0.0
    # past its last day a curve continues like its tail, relatively
    tail = Curve([10, 20], [0.5, 0.25])
    own = kaplan_meier([(5, 1.0, False)], tail=tail)
    assert own(5) == 1.0 and own(20) == pytest.approx(1.0 * 0.25 / 1.0)


def test_the_ranking_of_debtors_by_how_late_they_pay_is_recovered():
    rng = random.Random(7)
    truth = {d: rng.uniform(-5, 45) for d in range(1, 121)}  # each debtor's usual delay

    def delay(rng: random.Random, mean: object) -> int:
        return round(rng.gauss(float(mean), 6))  # type: ignore[arg-type]

    book = history(rng, truth, delay, per_debtor=8)
    rows = with_new_invoices(book)
    model = fit(book, TODAY.toordinal() - 1)
    predicted = {}
    for debtor_id, debtor_rows in book.debtors():
        blend = model.blend(book, debtor_rows)
        (row,) = rows[debtor_id]
        result = blend.predict(TODAY.toordinal() - book.due[row])
        assert result.days is not None
        predicted[debtor_id] = result.days
    ids = sorted(truth)
    rho = spearman([truth[d] for d in ids], [predicted[d] for d in ids])
    assert rho >= 0.9, rho
    # and the predicted day is close to the truth for most debtors
    close = sum(abs(predicted[d] - truth[d]) <= 7 for d in ids) / len(ids)
    assert close >= 0.8, close


def test_the_chance_of_paying_late_is_calibrated_within_ten_points():
    """Debtors are late with a known chance; the predicted chance for their next invoices,
    grouped by tenths, matches how often those invoices were late (simulated) within 0.10
    wherever a group holds at least 50 invoices."""
    rng = random.Random(11)
    truth = {d: rng.choice([0.05, 0.2, 0.4, 0.6, 0.8, 0.95]) for d in range(1, 301)}

    def delay(rng: random.Random, chance: object) -> int:
        late = rng.random() < float(chance)  # type: ignore[arg-type]
        return rng.randint(1, 30) if late else rng.randint(-10, 0)

    book = history(rng, truth, delay, per_debtor=12)
    rows = with_new_invoices(book, count=6)
    model = fit(book, TODAY.toordinal() - 1)
    groups = [[0, 0.0, 0] for _ in range(10)]
    for debtor_id, debtor_rows in book.debtors():
        blend = model.blend(book, debtor_rows)
        for row in rows[debtor_id]:
            chance = blend.predict(TODAY.toordinal() - book.due[row]).late
            late = rng.random() < truth[debtor_id]
            cell = groups[min(int(chance * 10), 9)]
            cell[0] += 1
            cell[1] += chance
            cell[2] += late
    checked = 0
    for count, chances, late in groups:
        if count >= 50:
            checked += 1
            assert abs(chances / count - late / count) <= 0.10, (count, chances, late)
    assert checked >= 4


def test_the_backtest_scores_a_model_that_knows_its_debtors_above_the_due_date():
    rng = random.Random(3)
    truth = {d: rng.choice([-3, 2, 10, 25, 40]) for d in range(1, 151)}

    def delay(rng: random.Random, mean: object) -> int:
        return int(mean) + rng.randint(-2, 2)  # type: ignore[call-overload]

    book = history(rng, truth, delay, per_debtor=24)
    result = backtest.run(book)
    doc = result.as_json()
    assert result.start == dt.date(2026, 8, 31)  # the Monday 13 weeks before this week's
    assert result.paid > 300
    assert doc["within_share"] >= 0.8, doc
    assert doc["within_due_share"] <= 0.5, doc
    assert doc["median_error"] <= 3
    # every invoice of the window was predicted from before it: the weekly forecast of the
    # past weeks adds up to about what came in from the invoices open at each week's start
    assert len(doc["week_forecast"]) == 13 and sum(doc["week_forecast"]) > 0
