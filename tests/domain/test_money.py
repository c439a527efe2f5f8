import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.domain.money import AmountError, parse_amount


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1.234,56", 123456),
        ("1,234.56", 123456),
        ("€ 12,50", 1250),
        ("€12.50", 1250),
        ("-3,00", -300),
        ("3,00-", -300),
        ("(5,00)", -500),
        ("12", 1200),
        ("0,5", 50),
        ("1.234", 123400),
        ("1,234", 123400),
        ("1.234.567,89", 123456789),
        ("1,234,567.89", 123456789),
        ("1 234,56", 123456),
        ("$13.50", 1350),
        ("EUR 99,95", 9995),
        (12.5, 1250),
        (43.0, 4300),
        (7, 700),
    ],
)
def test_reads_the_ways_people_write_amounts(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize(
    "text", ["", "abc", "1.23.4", "1,2,3", "1.234,5678", "12,34,56", "--5", 0.001, float("nan")]
)
def test_refuses_what_it_cannot_read_without_guessing(text):
    with pytest.raises(AmountError):
        parse_amount(text)


@given(st.integers(min_value=-(10**11), max_value=10**11))
def test_dutch_and_english_notation_agree(cents):
    whole, frac = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    dutch = f"{sign}{whole:,}".replace(",", ".") + f",{frac:02d}"
    english = f"{sign}{whole:,}.{frac:02d}"
    assert parse_amount(dutch) == cents
    assert parse_amount(english) == cents
