"""Statutory interest: per half-year rate, per day, compounded yearly; never guessed."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.domain.dunning.interest import MissingRate, half_year_of, statutory_interest

D = dt.date
SEVEN = {D(y, m, 1): 700 for y in range(2020, 2031) for m in (1, 7)}
CHANGING = {D(2024, 7, 1): 700, D(2025, 1, 1): 600}


@pytest.mark.parametrize(
    ("principal", "due", "until", "rates", "expected"),
    [
        # a whole year at 7%: 1,000.00 → 70.00
        (100_000, D(2024, 1, 1), D(2024, 12, 31), SEVEN, 7_000),
        # ten days at 7% and ten at 6% across the change on 1 January 2025
        (100_000, D(2024, 12, 21), D(2025, 1, 10), CHANGING, 356),
        # two years: the first year's 70.19 (366 days of 2024) earns interest in the second
        (100_000, D(2024, 1, 1), D(2026, 1, 1), SEVEN, 14_511),
        # paid on the due date, or before: nothing
        (100_000, D(2024, 5, 1), D(2024, 5, 1), SEVEN, 0),
        (0, D(2024, 5, 1), D(2024, 9, 1), SEVEN, 0),
        # one day on 121.00 at 7% is 2.32 cents
        (12_100, D(2024, 5, 1), D(2024, 5, 2), SEVEN, 2),
    ],
)
def test_interest_table(principal, due, until, rates, expected):
    assert statutory_interest(principal, due, until, rates) == expected


def test_a_half_year_without_a_rate_is_refused_not_guessed():
    with pytest.raises(MissingRate) as exc:
        statutory_interest(100_000, D(2024, 12, 1), D(2025, 8, 1), CHANGING)
    assert exc.value.half_year == D(2025, 7, 1)


def test_half_year_of():
    assert half_year_of(D(2025, 6, 30)) == D(2025, 1, 1)
    assert half_year_of(D(2025, 7, 1)) == D(2025, 7, 1)


days = st.integers(min_value=0, max_value=2_000)


@given(
    principal=st.integers(min_value=0, max_value=10**9),
    start=st.dates(min_value=D(2020, 1, 1), max_value=D(2024, 12, 31)),
    a=days,
    b=days,
)
def test_interest_grows_with_time_and_compounds_no_faster_than_it_should(principal, start, a, b):
    short, long = sorted((a, b))
    near = statutory_interest(principal, start, start + dt.timedelta(days=short), SEVEN)
    far = statutory_interest(principal, start, start + dt.timedelta(days=long), SEVEN)
    assert 0 <= near <= far
    # simple interest is a floor; yearly compounding at 7% never exceeds 1.07 ** years
    simple = principal * 0.07 * long / 365
    assert far >= int(simple) - 1
    assert far <= principal * (1.07 ** (long / 365 + 1) - 1) + 1


def test_the_dashboard_warns_and_an_admin_adds_the_next_rate(client):
    from portal.db import db
    from portal.models import InterestRate
    from tests.admin.test_admin import admin_login, page_csrf
    from tests.factories import create_admin

    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "Statutory interest rates are missing from 1 Jul 2025" in dashboard

    def add(kind, day, percent):
        return client.post(
            "/admin/interest-rates",
            data={
                "csrf_token": page_csrf(client, "/admin/interest-rates"),
                "kind": kind,
                "valid_from": day,
                "percent": percent,
            },
        )

    wrong_day = add("consumer", "2025-08-01", "4")
    assert wrong_day.status_code == 422
    assert "A rate starts on 1 January or 1 July." in wrong_day.get_data(as_text=True)
    assert add("consumer", "2025-01-01", "9").status_code == 422  # stored rates never change
    assert add("consumer", "2025-07-01", "4").status_code == 303
    row = db.session.query(InterestRate).filter_by(kind="consumer", valid_from=D(2025, 7, 1)).one()
    assert row.basis_points == 400 and row.created_by.startswith("admin:")
