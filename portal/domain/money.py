"""Money as integer cents: parsing the ways people and accounting packages write amounts."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_CURRENCY_NOISE = re.compile(r"[€$£\s\u00a0\u202f]|EUR|USD|GBP", re.IGNORECASE)


class AmountError(ValueError):
    """The text is not an amount we can read without guessing."""


def parse_amount(text: str | float | int) -> int:
    """Parse '1.234,56', '1,234.56', '€ 12,50', '-3,00' or a number into cents.

    The last separator followed by one or two digits is the decimal mark; a lone
    separator followed by exactly three digits is a thousands separator.
    """
    if isinstance(text, int | float):
        try:
            value = Decimal(str(text))
        except InvalidOperation as exc:  # nan, inf
            raise AmountError(f"not an amount: {text!r}") from exc
        return _to_cents(value, str(text))
    raw = text
    s = _CURRENCY_NOISE.sub("", text).replace("'", "")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1]
    if s.endswith("-"):
        negative, s = True, s[:-1]
    if s.startswith("-"):
        negative, s = not negative, s[1:]
    elif s.startswith("+"):
        s = s[1:]
    if not s or not re.fullmatch(r"[0-9.,]+", s):
        raise AmountError(f"not an amount: {raw!r}")
    last = max(s.rfind(","), s.rfind("."))
    if last == -1:
        integer, fraction = s, ""
    else:
        tail = s[last + 1 :]
        head = s[:last]
        if len(tail) == 3 and s.count(s[last]) >= 1 and ("," not in head and "." not in head):
            # "1.234" or "1,234": one separator and three digits -> thousands
            integer, fraction = head + tail, ""
        elif len(tail) in (1, 2):
            integer, fraction = head, tail
        elif len(tail) == 3:
            integer, fraction = head + tail, ""
        else:
            raise AmountError(f"not an amount: {raw!r}")
        sep = s[last]
        other = "," if sep == "." else "."
        if fraction and sep in integer:
            raise AmountError(f"not an amount: {raw!r}")
        if not _valid_grouping(integer, other if fraction else s[last]):
            raise AmountError(f"not an amount: {raw!r}")
        integer = integer.replace(",", "").replace(".", "")
    if not integer:
        integer = "0"
    cents = int(integer) * 100 + int((fraction + "00")[:2])
    return -cents if negative else cents


def _valid_grouping(integer: str, sep: str) -> bool:
    if sep not in integer:
        return integer.isdigit() or integer == ""
    groups = integer.split(sep)
    return (
        1 <= len(groups[0]) <= 3
        and groups[0].isdigit()
        and all(len(g) == 3 and g.isdigit() for g in groups[1:])
    )


def _to_cents(value: Decimal, raw: str) -> int:
    if not value.is_finite():
        raise AmountError(f"not an amount: {raw!r}")
    cents = value * 100
    rounded = cents.to_integral_value()
    if abs(cents - rounded) > Decimal("0.000001"):
        raise AmountError(f"more than two decimals: {raw!r}")
    return int(rounded)
