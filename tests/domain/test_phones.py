"""Phone numbers are read as people write them and stored in E.164."""

from __future__ import annotations

import pytest

from portal.domain.phones import PhoneError, is_e164, normalise, region_for


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("06 12345678", "NL", "+31612345678"),  # NL mobile, national form
        ("06-1234 5678", "NL", "+31612345678"),
        ("+31 6 12345678", "BE", "+31612345678"),  # its own prefix wins over the region
        ("0031612345678", "NL", "+31612345678"),
        ("0470 12 34 56", "BE", "+32470123456"),  # BE mobile, national form
        ("0032 470 12 34 56", "BE", "+32470123456"),
        ("0032 470 12 34 56", "NL", "+32470123456"),  # from NL, 00 dials abroad too
        ("+32 470 12 34 56", "NL", "+32470123456"),
        ("030 123 4567", "NL", "+31301234567"),  # landline Utrecht
        ("09 234 56 78", "BE", "+3292345678"),  # landline Gent
        ("  +31612345678 ", "nl", "+31612345678"),
    ],
)
def test_numbers_become_e164(raw, region, expected):
    assert normalise(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("hello", "NL", "not_a_number"),
        ("", "NL", "not_a_number"),
        ("0612", "NL", "too_short"),
        ("06 1234567890123", "NL", "too_long"),
        ("0612345678", "BE", "invalid"),  # a Dutch mobile read as Belgian is no number
    ],
)
def test_unusable_numbers_are_refused_with_a_reason(raw, region, reason):
    with pytest.raises(PhoneError) as caught:
        normalise(raw, region)
    assert caught.value.reason == reason
    assert str(caught.value)  # a message a person can read


def test_the_reason_is_translatable():
    with pytest.raises(PhoneError) as caught:
        normalise("0612", "NL")
    assert caught.value.msgid == "too short for a phone number in %(country)s"
    assert caught.value.params == {"country": "NL"}
    assert str(caught.value) == "too short for a phone number in NL"


def test_region_falls_back_to_the_brand_then_nl():
    assert region_for("be") == "BE"
    assert region_for("", "BE") == "BE"
    assert region_for("XX", "") == "NL"


def test_is_e164():
    assert is_e164("+31612345678")
    assert not is_e164("0612345678")
    assert not is_e164("+310612")
