"""Cell values as accounting packages write them: dates in many shapes, amounts, currencies."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from babel.numbers import list_currencies

from portal.domain.problems import N_, Problem

EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 = 1900-01-01, with Excel's 1900 leap-year quirk
_DATE_FORMATS = (
    "%d-%m-%Y",
    "%d-%m-%y",
    "%d/%m/%Y",
    "%d/%m/%y",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%b %d %Y",
    "%b %d, %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%B %d, %Y",
    "%d %B %Y",
)


class ValueProblem(Problem):
    """A cell that cannot be read; the message is for a person."""


def parse_date(value: Any) -> dt.date:
    """Real date cells, Excel serial numbers, and text: dd-mm-yyyy, d-m-yy, ISO, 'Jan 28 2021'.

    Day-first is assumed for ambiguous text such as 03/04/2026 (3 April), as Dutch and
    Belgian exports write it.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # Excel's last day is 9999-12-31
            return EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise ValueProblem(N_("not a date"))
    text = re.sub(r"\s+", " ", str(value or "").strip())
    if not text:
        raise ValueProblem(N_("the date is missing"))
    text = re.sub(r"[T ]\d{1,2}:\d{2}(:\d{2})?(\.\d+)?$", "", text)  # drop a time of day
    if re.fullmatch(r"\d{5}(\.0+)?", text):
        return EXCEL_EPOCH + dt.timedelta(days=int(float(text)))
    for fmt in _DATE_FORMATS:
        try:
            parsed = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if 1900 <= parsed.year <= 2200:
            return parsed
    raise ValueProblem(
        N_("“%(text)s” is not a date we can read; write it as 31-12-2026"), text=text
    )


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def parse_currency(value: Any, default: str = "EUR") -> str:
    """An ISO 4217 code ('EUR'); '€' is read as EUR; empty means the default."""
    text = str(value or "").strip().upper()
    if not text:
        return default
    text = {"€": "EUR", "$": "USD", "£": "GBP"}.get(text, text)
    if text not in _currencies():
        raise ValueProblem(N_("“%(code)s” is not a currency code such as EUR"), code=value)
    return text


def text(value: Any, limit: int) -> str:
    """A cell as tidy text: numbers without a trailing '.0', cut to the column's length."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", " ", str(value)).strip()[:limit]
