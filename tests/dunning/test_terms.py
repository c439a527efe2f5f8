"""The legal terms as a table: every case worked out by hand from the rule it names.

WIK: Besluit vergoeding voor buitengerechtelijke incassokosten art. 2 (15% / 10% / 5% /
1% / 0.5%, at least EUR 40, at most EUR 6,775). Belgian consumers: Book XIX of the Code of
Economic Law (EUR 20 up to 150; 30 + 10% up to 500; 65 + 5% above, at most EUR 2,000).
Businesses: at least EUR 40 per invoice (NL art. 6:96 lid 4 BW), a fixed EUR 40 per invoice
(BE law of 2 August 2002, art. 6). Deadlines: 14 days from receipt; a letter is received
on the third business day after printing, an email on the next business day; public
holidays of the debtor's country are no business days.
"""

from __future__ import annotations

import datetime as dt

import pytest

from portal.domain.dunning import terms
from portal.domain.dunning.interest import statutory_interest

D = dt.date

COSTS = [
    # (regime, principal in cents, invoices, expected cents)
    ("nl_b2c", 0, 1, 0),
    ("nl_b2c", 1, 1, 4_000),  # the EUR 40 minimum
    ("nl_b2c", 10_000, 1, 4_000),
    ("nl_b2c", 26_666, 1, 4_000),  # 15% = 39.999
    ("nl_b2c", 26_667, 1, 4_000),  # 15% = 40.0005
    ("nl_b2c", 26_700, 1, 4_005),
    ("nl_b2c", 100_000, 1, 15_000),
    ("nl_b2c", 249_999, 1, 37_500),  # 37,499.85 rounds up
    ("nl_b2c", 250_000, 1, 37_500),  # the first band in full
    ("nl_b2c", 250_100, 1, 37_510),  # 10% of the next EUR 1
    ("nl_b2c", 300_000, 1, 42_500),  # EUR 3,000 -> EUR 425 (DESIGN.md section 5)
    ("nl_b2c", 500_000, 1, 62_500),
    ("nl_b2c", 500_100, 1, 62_505),  # 5% of the next EUR 1
    ("nl_b2c", 1_000_000, 1, 87_500),
    ("nl_b2c", 1_000_100, 1, 87_501),  # 1% of the next EUR 1
    ("nl_b2c", 20_000_000, 1, 277_500),
    ("nl_b2c", 20_000_100, 1, 277_501),  # 0.5% of EUR 1 is half a cent: rounds up
    ("nl_b2c", 100_000_000, 1, 677_500),  # exactly at the EUR 6,775 cap
    ("nl_b2c", 500_000_000, 1, 677_500),
    ("nl_b2c", 300_000, 3, 42_500),  # once over the combined principal, not per invoice
    ("be_b2c", 0, 1, 0),
    ("be_b2c", 1, 1, 2_000),
    ("be_b2c", 15_000, 1, 2_000),  # EUR 150: still EUR 20
    ("be_b2c", 15_001, 1, 3_000),  # 30 + 10% of 0.01
    ("be_b2c", 40_000, 1, 5_500),  # 30 + 25
    ("be_b2c", 50_000, 1, 6_500),  # 30 + 35
    ("be_b2c", 50_001, 1, 6_500),  # 65 + 5% of 0.01
    ("be_b2c", 100_000, 1, 9_000),  # 65 + 25
    ("be_b2c", 3_000_000, 1, 154_000),  # 65 + 1,475
    ("be_b2c", 3_970_000, 1, 200_000),  # 65 + 1,935: the EUR 2,000 cap reached
    ("be_b2c", 5_000_000, 1, 200_000),
    ("nl_b2b", 10_000, 1, 4_000),  # at least EUR 40 for the one invoice
    ("nl_b2b", 10_000, 3, 12_000),  # EUR 40 for each of three invoices beats WIK's 40
    ("nl_b2b", 300_000, 1, 42_500),  # WIK above the minimum
    ("nl_b2b", 300_000, 20, 80_000),  # 20 x 40 beats WIK's 425
    ("nl_b2b", 26_667, 2, 8_000),
    ("be_b2b", 10_000, 1, 4_000),  # the fixed EUR 40 per invoice
    ("be_b2b", 300_000, 1, 4_000),  # whatever the amount
    ("be_b2b", 300_000, 3, 12_000),
]


@pytest.mark.parametrize(("regime", "principal", "invoices", "expected"), COSTS)
def test_costs(regime, principal, invoices, expected):
    assert terms.costs(regime, principal, invoices) == expected


REGIMES = [
    # (debtor kind, debtor country, brand country, regime)
    ("b2c", "NL", "NL", "nl_b2c"),
    ("b2c", "BE", "NL", "be_b2c"),  # a consumer keeps the law of home (Rome I art. 6)
    ("b2c", "NL", "BE", "nl_b2c"),
    ("b2c", "DE", "BE", "be_b2c"),  # elsewhere: the brand's
    ("b2c", "DE", "NL", "nl_b2c"),
    ("b2b", "BE", "NL", "nl_b2b"),  # a business: the creditor's law (Rome I art. 4)
    ("b2b", "NL", "BE", "be_b2b"),
    ("b2b", "BE", "BE", "be_b2b"),
]


@pytest.mark.parametrize(("kind", "country", "brand", "expected"), REGIMES)
def test_regime(kind, country, brand, expected):
    assert terms.regime(kind, country, brand) == expected


ANNOUNCES = [
    # (regime, step kind, fee rule, announces costs)
    ("nl_b2c", "notice", "wik", False),  # a Dutch consumer: only after a 14-day letter
    ("nl_b2c", "fourteen_day", "wik", True),
    ("nl_b2c", "fourteen_day", "none", False),
    ("be_b2c", "notice", "be_b2c", True),  # the default Belgian schedule books its notice
    ("be_b2c", "reminder", "none", False),  # the free first reminder
    ("nl_b2b", "notice", "wik", True),  # no 14-day letter needed
    ("be_b2b", "notice", "wik", True),
    ("nl_b2b", "reminder", "wik", False),  # costs belong on a notice or a 14-day letter
]


@pytest.mark.parametrize(("regime", "kind", "fee", "expected"), ANNOUNCES)
def test_which_steps_announce_costs(regime, kind, fee, expected):
    assert terms.announces_costs(regime, kind, fee) is expected


DEADLINES = [
    # (channel, sent or printed on, calendar, last day to pay)
    ("email", D(2026, 11, 12), "NL", D(2026, 11, 27)),  # Thursday: received Friday, + 14
    ("email", D(2026, 11, 13), "NL", D(2026, 11, 30)),  # Friday: received Monday
    ("letter", D(2026, 10, 23), "NL", D(2026, 11, 11)),  # Friday: third business day Wed
    ("letter", D(2026, 10, 19), "NL", D(2026, 11, 5)),  # Monday: Thursday + 14
    # Christmas: printed Wed 23 Dec 2026, the 25th is no business day: Tue 29 Dec + 14
    ("letter", D(2026, 12, 23), "NL", D(2027, 1, 12)),
    ("letter", D(2026, 12, 23), "BE", D(2027, 1, 12)),
    ("email", D(2026, 12, 24), "NL", D(2027, 1, 11)),  # received Monday 28 Dec
    # Easter: Good Friday 3 Apr 2026 counts in the Netherlands' calendar, Easter Monday in both
    ("letter", D(2026, 4, 2), "NL", D(2026, 4, 23)),  # Tue 7, Wed 8, Thu 9 Apr + 14
    ("letter", D(2026, 4, 2), "BE", D(2026, 4, 22)),  # Fri 3, Tue 7, Wed 8 Apr + 14
    ("email", D(2026, 4, 3), "BE", D(2026, 4, 21)),  # received Tuesday 7 Apr
    # King's Day, Monday 27 April 2026: a Dutch holiday only
    ("email", D(2026, 4, 24), "NL", D(2026, 5, 12)),  # received Tuesday 28 Apr
    ("email", D(2026, 4, 24), "BE", D(2026, 5, 11)),  # received Monday 27 Apr
    ("letter", D(2026, 4, 23), "NL", D(2026, 5, 13)),  # Fri 24, Tue 28, Wed 29 Apr + 14
    # 21 July 2026, Belgium's national day (a Tuesday)
    ("letter", D(2026, 7, 17), "BE", D(2026, 8, 6)),  # Mon 20, Wed 22, Thu 23 Jul + 14
    ("letter", D(2026, 7, 17), "NL", D(2026, 8, 5)),  # Mon 20, Tue 21, Wed 22 Jul + 14
    ("email", D(2026, 7, 20), "BE", D(2026, 8, 5)),  # received Wednesday 22 Jul
]


@pytest.mark.parametrize(("channel", "sent_on", "calendar", "expected"), DEADLINES)
def test_deadlines(channel, sent_on, calendar, expected):
    assert terms.deadline(channel, sent_on, calendar) == expected


SEVEN = {D(y, m, 1): 700 for y in range(2020, 2031) for m in (1, 7)}
CHANGING = {D(2024, 7, 1): 700, D(2025, 1, 1): 600}
PUBLISHED_NL_B2B = {  # art. 6:119a BW, as the migration ships them
    D(2023, 1, 1): 1050,
    D(2023, 7, 1): 1200,
    D(2024, 1, 1): 1250,
    D(2024, 7, 1): 1225,
    D(2025, 1, 1): 1115,
    D(2025, 7, 1): 1015,
    D(2026, 1, 1): 1015,
}

INTEREST = [
    # (principal, due date, until, rates, compounds, expected cents)
    (100_000, D(2024, 1, 1), D(2024, 12, 31), SEVEN, True, 7_000),  # 365 days at 7%
    (100_000, D(2024, 12, 21), D(2025, 1, 10), CHANGING, True, 356),  # across 1 January
    # two years: the first year's 70.19 (366 days of 2024) earns interest in the second
    (100_000, D(2024, 1, 1), D(2026, 1, 1), SEVEN, True, 14_511),
    # the same two years as Belgian simple interest: 731 days at 7% on 1,000.00
    (100_000, D(2024, 1, 1), D(2026, 1, 1), SEVEN, False, 14_019),
    (100_000, D(2024, 5, 1), D(2024, 5, 1), SEVEN, True, 0),  # paid on the due date
    (12_100, D(2024, 5, 1), D(2024, 5, 2), SEVEN, True, 2),  # one day: 2.32 cents
    # across the year end and a rate change with the published commercial rates:
    # 184 days of 2025-H2 at 10.15% and 31 days of 2026 at 10.15% on 5,000.00
    (500_000, D(2025, 6, 30), D(2026, 1, 31), PUBLISHED_NL_B2B, True, 29_894),
    # a year and a day after 30 Jun 2024 on 100,000.00: 184 days at 12.25% and 181 at
    # 11.15% make the first year's 11,704.52, which joins the principal; then one day at
    # 10.15% on 111,704.52 (31.06)
    (10_000_000, D(2024, 6, 30), D(2025, 7, 1), PUBLISHED_NL_B2B, True, 1_173_558),
]


@pytest.mark.parametrize(("principal", "due", "until", "rates", "compounds", "expected"), INTEREST)
def test_interest(principal, due, until, rates, compounds, expected):
    assert statutory_interest(principal, due, until, rates, "x", compounds) == expected


def test_the_table_holds_at_least_sixty_cases():
    cases = len(COSTS) + len(REGIMES) + len(ANNOUNCES) + len(DEADLINES) + len(INTEREST)
    assert cases >= 60


def test_interest_rules_per_regime():
    assert terms.interest_rule("nl_b2c") == terms.InterestRule("consumer", compounds=True)
    assert terms.interest_rule("nl_b2b") == terms.InterestRule("commercial", compounds=True)
    assert terms.interest_rule("be_b2b") == terms.InterestRule("be_commercial", compounds=False)
    assert terms.interest_rule("be_b2c") is None  # only by contract


def test_a_waiting_message_holds_the_period_and_a_bounce_never_starts_one():
    email = terms.Sent("email", "sent", D(2026, 11, 12))
    unprinted = terms.Sent("letter", "pending", None)
    bounced = terms.Sent("email", "failed", None)
    printed = terms.Sent("letter", "sent", D(2026, 11, 13))
    assert terms.period([email], "NL").passed(D(2026, 11, 28))
    assert not terms.period([email, unprinted], "NL").passed(D(2027, 1, 1))
    assert terms.period([bounced], "NL").undelivered
    assert not terms.period([bounced], "NL").passed(D(2027, 1, 1))
    both = terms.period([email, printed], "NL")  # the later date on paper wins
    assert both.last_day == D(2026, 12, 2) and not both.passed(D(2026, 12, 2))
