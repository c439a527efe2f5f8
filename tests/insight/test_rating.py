"""Payer ratings: what costs points, and paying later never raises the score."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain.insight.rating import History, grade_of, rate

TODAY = 740_000  # an ordinal day


def test_a_debtor_who_pays_on_time_is_good_and_one_who_pays_two_months_late_is_poor():
    on_time = History(invoices=[(TODAY - d, 10_000, -2, True) for d in (20, 60, 100, 300)])
    rating = rate(on_time, TODAY)
    assert rating is not None
    assert (rating.score, rating.grade, rating.factors) == (100, "good", ())
    late = History(invoices=[(TODAY - d, 10_000, 60, True) for d in (90, 150, 250, 400)])
    rating = rate(late, TODAY)
    assert rating is not None and rating.grade == "poor"
    assert [f[0] for f in rating.factors] == ["late", "recent"]
    assert round(rating.days_late) == 60


def test_the_amount_weighs_a_big_late_invoice_more_than_a_small_one():
    big_late = History(invoices=[(TODAY - 100, 100_000, 30, True), (TODAY - 90, 1_000, 0, True)])
    small_late = History(invoices=[(TODAY - 100, 1_000, 30, True), (TODAY - 90, 100_000, 0, True)])
    first, second = rate(big_late, TODAY), rate(small_late, TODAY)
    assert first is not None and second is not None
    assert first.score < second.score


def test_recent_lateness_costs_more_than_old_lateness():
    lately = History(invoices=[(TODAY - 500, 10_000, 0, True), (TODAY - 30, 10_000, 40, True)])
    formerly = History(invoices=[(TODAY - 500, 10_000, 40, True), (TODAY - 30, 10_000, 0, True)])
    first, second = rate(lately, TODAY), rate(formerly, TODAY)
    assert first is not None and second is not None
    assert first.score < second.score
    assert first.factors[0][0] in ("late", "recent") and "recent" in [f[0] for f in first.factors]


def test_open_overdue_invoices_count_and_nothing_due_means_no_rating():
    assert rate(History(invoices=[(TODAY + 10, 5_000, -10, False)]), TODAY) is None
    overdue = rate(History(invoices=[(TODAY - 120, 5_000, 120, False)]), TODAY)
    assert overdue is not None and overdue.grade == "poor"


def test_promises_plans_disputes_and_bounces_are_named_as_factors():
    history = History(
        invoices=[(TODAY - 60, 10_000, 0, True)],
        broken_promises=2,
        breached_plans=1,
        upheld_disputes=1,
        bouncing=True,
    )
    rating = rate(history, TODAY)
    assert rating is not None
    assert rating.score == 100 - 15 - 10 - 5 - 5
    assert [f[0] for f in rating.factors] == ["promises", "plans", "disputes"]  # top three


def test_grades():
    assert [grade_of(s) for s in (100, 70, 69, 45, 44, 0)] == [
        "good",
        "good",
        "average",
        "average",
        "poor",
        "poor",
    ]


invoice = st.tuples(
    st.integers(min_value=-400, max_value=60),  # due, relative to today
    st.integers(min_value=1, max_value=500_000),  # cents
    st.integers(min_value=-30, max_value=200),  # days after the due date it was paid
    st.booleans(),  # paid (else still open)
)


def _history(rows, promises=0, plans=0, disputes=0, bouncing=False) -> History:
    invoices = []
    for due_offset, cents, late, paid in rows:
        due = TODAY + due_offset
        if paid and due + late <= TODAY:
            invoices.append((due, cents, late, True))
        else:  # still open: late so far, if past due
            invoices.append((due, cents, TODAY - due, False))
    return History(invoices, promises, plans, disputes, bouncing)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(invoice, min_size=1, max_size=12),
    which=st.integers(min_value=0),
    delay=st.integers(min_value=1, max_value=120),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.booleans()),
)
def test_paying_an_invoice_later_never_raises_the_score(rows, which, delay, extra):
    before = rate(_history(rows, *extra), TODAY)
    index = which % len(rows)
    due_offset, cents, late, paid = rows[index]
    later = [*rows]
    later[index] = (due_offset, cents, late + delay, paid)  # the same invoice, paid later
    after = rate(_history(later, *extra), TODAY)
    if before is None:
        return
    # (an early payment that now has not happened yet leaves nothing known: no rating)
    assert after is None or after.score <= before.score
    # and not paying at all (still open) is never better than paying
    unpaid = [*rows]
    unpaid[index] = (due_offset, cents, late, False)
    never = rate(_history(unpaid, *extra), TODAY)
    assert never is None or never.score <= before.score
