"""Payment plan arithmetic: schedules add up, dates increase, and the policy says why not."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.domain.money import AmountError
from portal.domain.plans import schedules
from portal.domain.plans.schedules import BIWEEKLY, MONTHLY, Policy

D = dt.date

totals = st.integers(min_value=1, max_value=10_000_000)
counts = st.integers(min_value=1, max_value=schedules.MAX_COUNT)
starts = st.dates(min_value=D(2020, 1, 1), max_value=D(2040, 12, 31))
frequencies = st.sampled_from(schedules.FREQUENCIES)


@given(totals, counts, starts, frequencies)
def test_schedule_adds_up_and_dates_increase(total, count, start, frequency):
    rows = schedules.schedule(total, count, start, frequency)
    assert sum(c for _, c in rows) == total
    assert all(c > 0 for _, c in rows)
    assert rows[0][0] == start
    assert all(a[0] < b[0] for a, b in itertools.pairwise(rows))
    # equal instalments; only the last may be larger
    assert len({c for _, c in rows[:-1]}) <= 1
    assert rows[-1][1] >= rows[0][1]


@given(totals, st.integers(min_value=1, max_value=10_000_000), starts, frequencies)
def test_by_amount_adds_up(total, per, start, frequency):
    if -(-total // per) > schedules.MAX_COUNT:
        with pytest.raises(ValueError):
            schedules.by_amount(total, per, start, frequency)
        return
    rows = schedules.by_amount(total, per, start, frequency)
    assert sum(c for _, c in rows) == total
    assert all(c == per for _, c in rows[:-1])
    assert 0 < rows[-1][1] <= per
    assert all(a[0] < b[0] for a, b in itertools.pairwise(rows))


@given(totals, counts, starts, frequencies)
def test_no_instalment_below_the_minimum_when_the_policy_holds(total, count, start, frequency):
    policy = Policy()
    plan = schedules.plan_of(total, schedules.schedule(total, count, start, frequency))
    if not schedules.check(policy, plan):
        assert all(c >= policy.min_instalment_cents for _, c in plan.instalments)
        assert len(plan.instalments) <= policy.max_instalments
        assert total >= policy.min_total_cents
        assert plan.days <= policy.max_days


@pytest.mark.parametrize(
    ("total", "count", "start", "frequency", "expected"),
    [
        (1000, 3, D(2026, 1, 15), MONTHLY,
         [(D(2026, 1, 15), 333), (D(2026, 2, 15), 333), (D(2026, 3, 15), 334)]),
        (1000, 1, D(2026, 1, 15), MONTHLY, [(D(2026, 1, 15), 1000)]),
        (2, 5, D(2026, 1, 1), BIWEEKLY, [(D(2026, 1, 1), 1), (D(2026, 1, 15), 1)]),
        (30000, 2, D(2026, 1, 31), MONTHLY, [(D(2026, 1, 31), 15000), (D(2026, 2, 28), 15000)]),
        (30000, 3, D(2024, 1, 31), MONTHLY,
         [(D(2024, 1, 31), 10000), (D(2024, 2, 29), 10000), (D(2024, 3, 31), 10000)]),
        (100, 2, D(2026, 12, 20), BIWEEKLY, [(D(2026, 12, 20), 50), (D(2027, 1, 3), 50)]),
    ],
)  # fmt: skip
def test_schedule_table(total, count, start, frequency, expected):
    assert schedules.schedule(total, count, start, frequency) == expected


@pytest.mark.parametrize(
    ("total", "per", "expected"),
    [
        (10000, 2500, [2500, 2500, 2500, 2500]),
        (10001, 2500, [2500, 2500, 2500, 2500, 1]),
        (999, 5000, [999]),
    ],
)
def test_by_amount_table(total, per, expected):
    rows = schedules.by_amount(total, per, D(2026, 3, 1), MONTHLY)
    assert [c for _, c in rows] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 3, D(2026, 1, 1), MONTHLY), "total"),
        ((100, 0, D(2026, 1, 1), MONTHLY), "between"),
        ((100, schedules.MAX_COUNT + 1, D(2026, 1, 1), MONTHLY), "between"),
        ((100, 2, D(2026, 1, 1), "weekly"), "frequency"),
    ],
)
def test_schedule_refuses_nonsense(args, message):
    with pytest.raises(ValueError, match=message):
        schedules.schedule(*args)


def _msgids(total, rows, policy=schedules.DEFAULT_POLICY):
    return [p.msgid for p in schedules.check(policy, schedules.plan_of(total, rows))]


def test_check_within_policy():
    assert _msgids(60000, schedules.schedule(60000, 6, D(2026, 1, 1), MONTHLY)) == []


@pytest.mark.parametrize(
    ("total", "count", "frequency", "fragment"),
    [
        (9999, 2, MONTHLY, "possible from a total"),
        (100000, 7, BIWEEKLY, "at most %(count)d"),
        (10000, 5, MONTHLY, "at least %(amount)s"),
    ],
)
def test_check_names_the_broken_rule(total, count, frequency, fragment):
    msgids = _msgids(total, schedules.schedule(total, count, D(2026, 1, 1), frequency))
    assert any(fragment in m for m in msgids), msgids


def test_check_duration_and_rendered_message():
    policy = Policy(max_instalments=12, max_days=90)
    problems = schedules.check(
        policy, schedules.plan_of(120000, schedules.schedule(120000, 5, D(2026, 1, 1), MONTHLY))
    )
    assert [str(p) for p in problems] == ["A payment plan must be paid within 90 days."]
    low = schedules.check(
        Policy(), schedules.plan_of(5000, schedules.schedule(5000, 1, D(2026, 1, 1), MONTHLY))
    )
    assert str(low[0]) == "A payment plan is possible from a total of € 100,00."


def test_euros_and_start():
    assert schedules.euros(123456789) == "€ 1.234.567,89"
    assert schedules.euros(5) == "€ 0,05"
    today = D(2026, 5, 10)
    assert schedules.check_start(today, today) == []
    assert schedules.check_start(today - dt.timedelta(days=1), today)
    assert schedules.check_start(today + dt.timedelta(days=31), today)


pcts = st.integers(min_value=1, max_value=90)


@given(totals, counts, starts, frequencies, pcts)
def test_a_down_payment_comes_first_and_the_rest_adds_up(total, count, start, frequency, pct):
    rows = schedules.schedule(total, count, start, frequency, down_payment_pct=pct)
    assert sum(c for _, c in rows) == total
    assert all(c > 0 for _, c in rows)
    assert all(a[0] < b[0] for a, b in itertools.pairwise(rows))
    assert rows[0][1] >= schedules.down_payment(total, pct)
    if len(rows) > 1:
        assert rows[0][1] == -(-total * pct // 100)
        assert len(rows) <= count
        rest = [c for _, c in rows[1:]]
        assert len(set(rest[:-1])) <= 1 and rest[-1] >= rest[0]
    # a plan built this way never breaks the policy's down payment rule
    plan = schedules.plan_of(total, rows)
    assert not any(
        "first instalment" in p.msgid for p in schedules.check(Policy(down_payment_pct=pct), plan)
    )


@given(totals, st.integers(min_value=1, max_value=10_000_000), starts, frequencies, pcts)
def test_by_amount_with_a_down_payment_adds_up(total, per, start, frequency, pct):
    try:
        rows = schedules.by_amount(total, per, start, frequency, down_payment_pct=pct)
    except ValueError:
        rest = total - schedules.down_payment(total, pct)
        assert -(-rest // per) + 1 > schedules.MAX_COUNT
        return
    assert sum(c for _, c in rows) == total
    assert rows[0][1] >= schedules.down_payment(total, pct)
    assert all(c == per for _, c in rows[1:-1])
    assert all(c > 0 for _, c in rows)


def test_down_payment_table():
    rows = schedules.schedule(30000, 3, D(2026, 1, 1), MONTHLY, down_payment_pct=20)
    assert [c for _, c in rows] == [6000, 12000, 12000]
    assert schedules.down_payment(10001, 10) == 1001  # rounded up to the cent
    rows = schedules.by_amount(30000, 10000, D(2026, 1, 1), MONTHLY, down_payment_pct=20)
    assert [c for _, c in rows] == [6000, 10000, 10000, 4000]
    assert schedules.schedule(1, 3, D(2026, 1, 1), MONTHLY, down_payment_pct=20) == [
        (D(2026, 1, 1), 1)
    ]
    # a total so small that the down payment is all of it: one instalment, not 1 + 1 cent
    assert schedules.schedule(2, 3, D(2026, 1, 1), MONTHLY, down_payment_pct=51) == [
        (D(2026, 1, 1), 2)
    ]
    assert schedules.by_amount(2, 1, D(2026, 1, 1), MONTHLY, down_payment_pct=51) == [
        (D(2026, 1, 1), 2)
    ]


def test_check_refuses_a_frequency_and_a_small_first_instalment():
    policy = Policy(down_payment_pct=50, frequencies=(MONTHLY,))
    even = schedules.schedule(30000, 3, D(2026, 1, 1), BIWEEKLY)
    problems = [str(p) for p in schedules.check(policy, schedules.plan_of(30000, even, BIWEEKLY))]
    assert problems == [
        "Instalments can only be paid every month.",
        "The first instalment must be at least € 150,00 (50% of the total).",
    ]
    good = schedules.schedule(30000, 3, D(2026, 1, 1), MONTHLY, down_payment_pct=50)
    assert schedules.check(policy, schedules.plan_of(30000, good, MONTHLY)) == []


def test_one_parser_reads_an_amount_per_instalment():
    assert schedules.instalment_cents("50,00") == schedules.instalment_cents("50.00") == 5000
    assert schedules.instalment_cents("  ") is None
    for wrong in ("0", "-5", "fifty"):
        with pytest.raises(AmountError):
            schedules.instalment_cents(wrong)
