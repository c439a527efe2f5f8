"""Whole numbers typed into URLs and forms (ids, pages, days).

`str.isdigit()` also accepts digits such as "²" or "٣" that `int()` refuses, and a long
run of digits overflows a database integer; `whole()` takes plain ASCII digits within
bounds and answers None for anything else, so a tampered query is a clean 404 or a
form error, never a 500.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1  # the largest value of a 32-bit integer column
MAX_PAGE = 100_000  # list pages beyond this are past the end of any list we show


def whole(raw: object, low: int = 1, high: int = MAX_ID) -> int | None:
    """`raw` as a whole number from `low` to `high`, or None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 12:
        value = int(raw)
    else:
        return None
    return value if low <= value <= high else None


def ids(values: list[str]) -> list[int]:
    """The valid ids among `values` (checkboxes, repeated query parameters)."""
    return [n for n in (whole(v) for v in values) if n is not None]


def clamped(raw: object, low: int, high: int, default: int) -> int:
    """Plain ASCII digits held within `low`..`high` (a huge number becomes `high`); anything
    else is `default`. For values where "more than the most" has an obvious meaning, such
    as a page number (the caller then shows its last page) or a number of days."""
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit()):
        return default
    if len(raw) > len(str(high)):  # never turn thousands of digits into an int
        return high
    return min(max(int(raw), low), high)


def page_number(raw: object) -> int:
    """A page number typed into a URL: from 1 to MAX_PAGE, 1 when it is not a number."""
    return clamped(raw, 1, MAX_PAGE, 1)
