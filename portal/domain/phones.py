"""Phone numbers: read as people write them, stored in E.164 (+31612345678).

A number without a country prefix is read in the debtor's country (else the brand's):
"06 12345678" in NL and "0470 12 34 56" in BE; "0032 ..." and "+32 ..." carry their own.
"""

from __future__ import annotations

import phonenumbers

from portal.domain.problems import N_, Problem

FALLBACK_REGION = "NL"

NOT_A_NUMBER = N_("not a phone number")
TOO_SHORT = N_("too short for a phone number in %(country)s")
TOO_LONG = N_("too long for a phone number in %(country)s")
INVALID = N_("not a valid phone number in %(country)s")

_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: ("too_short", TOO_SHORT),
    phonenumbers.ValidationResult.INVALID_LENGTH: ("too_short", TOO_SHORT),
    phonenumbers.ValidationResult.TOO_LONG: ("too_long", TOO_LONG),
}


class PhoneError(Problem):
    """A number that cannot be stored; `reason` is not_a_number, too_short, too_long or invalid.

    The message is translatable (`msgid` and `params`, see `portal.domain.problems`).
    """

    def __init__(self, reason: str, msgid: str, **params: object) -> None:
        super().__init__(msgid, **params)
        self.reason = reason


def region_for(country: str | None, fallback: str | None = FALLBACK_REGION) -> str:
    """A region phonenumbers knows: `country` (two letters) if it is one, else `fallback`."""
    code = (country or "").strip().upper()
    if code in phonenumbers.SUPPORTED_REGIONS:
        return code
    fallback_code = (fallback or "").strip().upper()
    return fallback_code if fallback_code in phonenumbers.SUPPORTED_REGIONS else FALLBACK_REGION


def normalise(raw: str, default_region: str) -> str:
    """`raw` as an E.164 string ("+31612345678"), read in `default_region` when it has no
    country prefix; raises PhoneError saying why it is not a usable number.

    >>> normalise("06 12345678", "NL")
    '+31612345678'
    """
    region = region_for(default_region)
    text = (raw or "").strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError("not_a_number", NOT_A_NUMBER) from exc
    country = phonenumbers.region_code_for_number(number) or region
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible in _REASONS:
        reason, msgid = _REASONS[possible]
        raise PhoneError(reason, msgid, country=country)
    if possible != phonenumbers.ValidationResult.IS_POSSIBLE or not (
        phonenumbers.is_valid_number(number)
    ):
        raise PhoneError("invalid", INVALID, country=country)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_e164(value: str) -> bool:
    """Whether `value` is already a valid number in E.164 form."""
    if not value.startswith("+"):
        return False
    try:
        return normalise(value, FALLBACK_REGION) == value
    except PhoneError:
        return False
