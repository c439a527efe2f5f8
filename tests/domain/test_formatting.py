import datetime as dt
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from portal.i18n import FORMAT_LOCALE, date, money


@pytest.mark.parametrize(
    ("cents", "lang", "text"),
    [
        (123456, "nl", "€\xa01.234,56"),
        (123456, "en", "€1,234.56"),
        (5, "nl", "€\xa00,05"),
        (-1250, "en", "-€12.50"),
    ],
)
def test_amounts_as_each_language_writes_them(cents, lang, text):
    assert money(cents, "EUR", lang) == text


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from(["EUR", "USD", "GBP"]),
    st.sampled_from(sorted(FORMAT_LOCALE)),
)
def test_fast_money_matches_babel(cents, currency, lang):
    expected = format_currency(Decimal(cents).scaleb(-2), currency, locale=FORMAT_LOCALE[lang])
    assert money(cents, currency, lang) == expected


@given(st.dates(min_value=dt.date(1990, 1, 1)), st.sampled_from(sorted(FORMAT_LOCALE)))
def test_fast_date_matches_babel(day, lang):
    assert date(day, lang) == format_date(day, "d MMM y", locale=FORMAT_LOCALE[lang])


def test_dates_read_naturally():
    assert date(dt.date(2026, 11, 23), "en") == "23 Nov 2026"
    assert date(None, "en") == ""
