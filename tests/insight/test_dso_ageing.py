"""DSO and ageing against cases computed by hand, with payments on the boundary days."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.domain.insight import ageing, dso
from portal.domain.insight.book import OPEN, PAID, Book

D = dt.date


def book_of(day: dt.date, invoices: list[tuple]) -> Book:
    """invoices: (id, invoiced, due, total, paid_on or None, open cents)."""
    book = Book(day)
    for invoice_id, invoiced, due, total, paid_on, open_cents in invoices:
        book.add(
            invoice_id=invoice_id,
            debtor_id=1,
            brand_id=7,
            segment_id=None,
            invoice_date=invoiced,
            due_date=due,
            total_cents=total,
            open_cents=0 if paid_on else open_cents,
            status=PAID if paid_on else OPEN,
            paid_on=paid_on,
        )
    return book


# the first quarter of 2026; everything below is worked out by hand
QUARTER = [
    (1, D(2026, 1, 10), D(2026, 1, 24), 1000, D(2026, 2, 5), 0),  # paid in February
    (2, D(2026, 2, 1), D(2026, 2, 15), 2000, D(2026, 3, 31), 0),  # paid ON the month end
    (3, D(2026, 2, 20), D(2026, 3, 6), 3000, D(2026, 4, 1), 0),  # paid the day after it
    (4, D(2026, 3, 15), D(2026, 3, 31), 4000, None, 4000),  # due ON the month end
    (5, D(2026, 3, 31), D(2026, 4, 14), 500, None, 500),  # invoiced ON the month end
    (6, D(2026, 1, 31), D(2026, 2, 14), 1500, D(2026, 1, 31), 0),  # paid the day it was sent
]
ENDS = [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31)]


def test_receivables_at_month_ends_count_boundary_days_as_the_definition_says():
    result = dso.receivables(book_of(D(2026, 4, 20), QUARTER), ENDS)
    # Jan 31: only invoice 1 (invoice 6 was paid the day it was sent, never owed at a day end)
    # Feb 28: invoices 2 and 3; Mar 31: 3 (paid the day after), 4 and 5 (2 was paid that day)
    assert result.ar["all"] == [1000, 5000, 7500]
    # not yet due: none; invoice 3 (due Mar 6); invoice 4 (due that very day) and 5
    assert result.current["all"] == [0, 3000, 4500]
    assert result.ar["brand:7"] == result.ar["segment:0"] == result.ar["all"]


def test_dso_by_the_countback_and_the_standard_method():
    points = dso.points(book_of(D(2026, 4, 20), QUARTER), ENDS)["all"]
    jan, feb, mar = points
    assert (jan.sales, feb.sales, mar.sales) == (2500, 5000, 4500)
    # standard: AR / sales * days; best possible: not-yet-due AR / sales * days
    assert jan.standard == pytest.approx(1000 / 2500 * 31)  # 12.4
    assert feb.standard == pytest.approx(28.0)
    assert mar.standard == pytest.approx(7500 / 4500 * 31)  # 51.67
    assert (jan.best, feb.best, mar.best) == pytest.approx((0.0, 16.8, 31.0))
    assert mar.delinquent == pytest.approx(7500 / 4500 * 31 - 31)  # 20.67 days delinquent
    # countback: March's 4,500 of sales leave 3,000 of the 7,500 owed: all 31 days of
    # March, then 3,000 / 5,000 of February's 28 days
    assert mar.countback == pytest.approx(31 + 28 * 3000 / 5000)  # 47.8
    assert feb.countback == pytest.approx(28.0)
    assert jan.countback == pytest.approx(12.4)
    assert mar.as_json()["countback"] == 47.8


def test_countback_edges():
    assert dso.countback(0, [(100, 30)]) == 0.0
    assert dso.countback(150, [(100, 30), (100, 31)]) == pytest.approx(30 + 31 * 0.5)
    assert dso.countback(150, [(0, 30), (300, 31)]) == pytest.approx(30 + 31 * 0.5)
    assert dso.countback(500, [(100, 30), (100, 31)]) is None  # owes more than it ever sold
    assert dso.standard(100, 0, 30) is None


def test_a_partly_paid_invoice_counts_what_was_still_open_at_each_day():
    book = book_of(D(2026, 5, 1), [(1, D(2026, 3, 1), D(2026, 3, 15), 1000, None, 400)])
    # the portal booked 600 on it on April 10: at March's end all 1,000 was still owed
    partial = {0: [(D(2026, 4, 10).toordinal(), 600)]}
    result = dso.receivables(book, [D(2026, 3, 31), D(2026, 4, 10), D(2026, 4, 30)], partial)
    assert result.ar["all"] == [1000, 400, 400]


def test_dso_on_a_day_within_a_month():
    day = D(2026, 4, 10)
    book = book_of(
        day,
        [
            (1, D(2026, 1, 20), D(2026, 2, 3), 3000, D(2026, 2, 10), 0),  # 80 days ago: counts
            (2, D(2026, 1, 9), D(2026, 1, 23), 5000, D(2026, 1, 30), 0),  # 91 days ago: not
            (3, D(2026, 3, 20), D(2026, 4, 3), 2000, None, 2000),
            (4, D(2026, 4, 1), D(2026, 4, 15), 1000, None, 1000),
        ],
    )
    (point,) = dso.points(book, [day])["all"]
    # standard and best possible over the last 91 days (11 Jan - 10 Apr): sales 6,000
    assert point.sales == 6000
    assert point.standard == pytest.approx(3000 / 6000 * 91)
    assert point.best == pytest.approx(1000 / 6000 * 91)
    # the countback starts with the 10 days of April (sales 1,000), then all of March
    assert point.countback == pytest.approx(10 + 31 * 2000 / 2000)


def test_month_ends_are_the_full_months_before_today():
    assert dso.month_ends(D(2026, 3, 15), 3) == [D(2025, 12, 31), D(2026, 1, 31), D(2026, 2, 28)]


@pytest.mark.parametrize(
    ("days_overdue", "bucket"),
    [(-5, 0), (0, 0), (1, 1), (30, 1), (31, 2), (60, 2), (61, 3), (90, 3), (91, 4), (400, 4)],
)
def test_ageing_buckets_on_their_boundaries(days_overdue, bucket):
    assert ageing.bucket_of(days_overdue) == bucket
    lo, hi = ageing.due_range(bucket, D(2026, 6, 30))
    due = D(2026, 6, 30) - dt.timedelta(days=days_overdue)
    assert (lo is None or lo <= due) and (hi is None or due <= hi)


def test_ageing_totals_per_group_and_debtor():
    day = D(2026, 6, 30)
    book = Book(day)
    for invoice_id, debtor, brand, due, cents in [
        (1, 1, 7, day, 100),  # due today: not due
        (2, 1, 7, day - dt.timedelta(days=1), 200),
        (3, 1, 7, day - dt.timedelta(days=31), 300),
        (4, 2, 8, day - dt.timedelta(days=91), 400),
        (5, 2, 8, day - dt.timedelta(days=91), 0),  # nothing open: not counted
    ]:
        book.add(
            invoice_id=invoice_id,
            debtor_id=debtor,
            brand_id=brand,
            segment_id=3,
            invoice_date=due - dt.timedelta(days=14),
            due_date=due,
            total_cents=max(cents, 1),
            open_cents=cents,
        )
    result = ageing.ageing(book)
    assert result.groups["all"] == [[1, 100], [1, 200], [1, 300], [0, 0], [1, 400]]
    assert result.groups["brand:8"] == [[0, 0], [0, 0], [0, 0], [0, 0], [1, 400]]
    assert result.groups["segment:3"] == result.groups["all"]
    assert result.debtors[1].open_cents == 600 and result.debtors[1].overdue_cents == 500
    assert result.debtors[2].overdue_cents == 400
