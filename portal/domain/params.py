"""Whole numbers typed into URLs and forms (ids, pages, days).

`str.isdigit()` also accepts digits such as "²" or "٣" that `int()` refuses, and a long
run of digits overflows a database integer; `whole()` takes plain ASCII digits within
bounds and answers None for anything else, so a tampered query is a clean 404 or a
form error, never a 500.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1  # the largest value of a 32-bit integer column


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
