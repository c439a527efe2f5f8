"""Collection costs: the legal tables, and properties over any principal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.domain.dunning.fees import BE_MAX, WIK_MAX, WIK_MIN, belgian_b2c, wik


@pytest.mark.parametrize(
    ("principal", "fee"),
    [
        (0, 0),
        (10_000, 4_000),  # EUR 100: the EUR 40 minimum
        (26_666, 4_000),  # 15% would be 40.00 (rounded): still the minimum
        (100_000, 15_000),  # EUR 1,000: 15%
        (250_000, 37_500),  # EUR 2,500: the first band in full
        (300_000, 42_500),  # EUR 3,000 -> EUR 425 (DESIGN.md section 5)
        (500_000, 62_500),  # EUR 5,000
        (1_000_000, 87_500),  # EUR 10,000
        (20_000_000, 277_500),  # EUR 200,000
        (100_000_000, 677_500),  # EUR 1,000,000 -> the EUR 6,775 cap
        (500_000_000, 677_500),
    ],
)
def test_wik_table(principal, fee):
    assert wik(principal) == fee


@pytest.mark.parametrize(
    ("principal", "fee"),
    [
        (0, 0),
        (5_000, 2_000),  # EUR 50: EUR 20
        (15_000, 2_000),  # EUR 150: still EUR 20
        (15_001, 3_000),  # EUR 150.01: EUR 30 + 10% of 0.01 (rounds to 0)
        (40_000, 5_500),  # EUR 400: 30 + 25
        (50_000, 6_500),  # EUR 500: 30 + 35
        (100_000, 9_000),  # EUR 1,000: 65 + 25
        (5_000_000, 200_000),  # EUR 50,000: capped at EUR 2,000
    ],
)
def test_belgian_consumer_table(principal, fee):
    assert belgian_b2c(principal) == fee


principals = st.integers(min_value=1, max_value=10**11)


@given(principals, principals)
def test_wik_grows_with_the_principal_within_its_bounds(a, b):
    low, high = sorted((a, b))
    assert WIK_MIN <= wik(low) <= wik(high) <= WIK_MAX


@given(principals)
def test_wik_is_charged_once_over_the_combined_principal(total):
    """Courts cut fees counted per invoice: one fee over the sum is never more
    (give or take the cent that rounding each part may lose)."""
    half = total // 2
    assert half == 0 or wik(total) <= wik(half) + wik(total - half) + 1


@given(principals, principals)
def test_belgian_cap_grows_and_stays_under_2000(a, b):
    low, high = sorted((a, b))
    assert 2_000 <= belgian_b2c(low) <= belgian_b2c(high) <= BE_MAX
