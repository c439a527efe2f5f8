"""Days sales outstanding, as the README defines it.

At the end of a day `c` an invoice is receivable from its invoice date until it is settled:
`invoice_date <= c < paid_on`. It counts with what is open of it at `c`: what is open now,
plus the portal's payments on it made after `c` (a settled invoice counts in full until the
day it was settled). It is *current* (not yet due) while `c <= due_date`.

For a period of `days` days with credit sales `sales` (the totals of the invoices dated in
it), ending on a day with receivables `AR` of which `current` is not yet due:

* standard DSO = AR / sales * days
* best possible DSO = current / sales * days
* average days delinquent (ADD) = standard DSO - best possible DSO
* countback DSO: take AR, subtract the sales of the period itself, then of the month
  before, and so on, adding each whole period's days, until what is left is smaller than
  a period's sales; add that period's days times left / sales.

The period is a calendar month at a month end. On another day (today) the countback starts
with the month so far, and the standard and best possible DSO use the last 91 days (a
month just begun would make them jump).
"""

from __future__ import annotations

import calendar
import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from portal.domain.insight.book import Book

MAX_COUNTBACK_PERIODS = 24
TRAILING_DAYS = 91  # the period of standard DSO on a day that is not a month end


def group_keys(book: Book, row: int) -> tuple[str, str, str]:
    """The groups an invoice counts in: all, its brand, its segment (0: none)."""
    return ("all", f"brand:{book.brand[row]}", f"segment:{book.segment[row]}")


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def month_ends(day: dt.date, count: int) -> list[dt.date]:
    """The last `count` month ends up to `day`: full months only, oldest first."""
    first = day.replace(day=1)
    ends = []
    for _ in range(count):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        ends.append(month_end(first))
    return sorted(ends)


@dataclass
class Receivables:
    """Receivables (`ar`) and the part not yet due (`current`) at each cut day, per group."""

    cuts: list[dt.date]
    ar: dict[str, list[int]]
    current: dict[str, list[int]]


def _keys(combo: tuple[int, int]) -> tuple[str, str, str]:
    brand, segment = combo
    return ("all", f"brand:{brand}", f"segment:{segment}")


def receivables(
    book: Book, cuts: Sequence[dt.date], partial: dict[int, list[tuple[int, int]]] | None = None
) -> Receivables:
    """What was receivable at the end of each cut day, per group.

    `partial` holds, per row of an open invoice, the portal's payments on it as
    (ordinal day, cents). Difference arrays keep it one step per invoice, summed per
    (brand, segment) and only then per group."""
    ordinals = [c.toordinal() for c in cuts]
    n = len(ordinals)
    diffs: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
    partial = partial or {}
    invoiced, dues, paids = book.invoiced, book.due, book.paid
    brands, segments, totals, opens = book.brand, book.segment, book.total, book.open
    for row in range(len(book)):
        start = bisect_left(ordinals, invoiced[row])  # first cut on or after the date
        if start >= n:
            continue
        not_due = bisect_right(ordinals, dues[row])  # cuts after the due date are overdue
        combo = (brands[row], segments[row])
        pair = diffs.get(combo)
        if pair is None:
            pair = diffs[combo] = ([0] * (n + 1), [0] * (n + 1))
        ar, cur = pair
        paid = paids[row]
        if paid:
            spans = [(totals[row], bisect_left(ordinals, paid))]
        else:
            spans = [(opens[row], n)]
            spans += [(c, bisect_left(ordinals, d)) for d, c in partial.get(row, ())]
        for cents, stop in spans:
            if stop <= start or not cents:
                continue
            ar[start] += cents
            ar[stop] -= cents
            end = stop if stop < not_due else not_due
            if end > start:
                cur[start] += cents
                cur[end] -= cents

    out_ar: dict[str, list[int]] = {}
    out_cur: dict[str, list[int]] = {}
    for combo, (ar, cur) in diffs.items():
        ar_values, cur_values = _running(ar[:n]), _running(cur[:n])
        for key in _keys(combo):
            for out, values in ((out_ar, ar_values), (out_cur, cur_values)):
                found = out.setdefault(key, [0] * n)
                for i, value in enumerate(values):
                    found[i] += value
    return Receivables(list(cuts), out_ar, out_cur)


def _running(diff: list[int]) -> list[int]:
    total, values = 0, []
    for value in diff:
        total += value
        values.append(total)
    return values


def sales_by_day(book: Book, since: dt.date) -> dict[str, dict[int, int]]:
    """Invoice totals per group and invoice day (ordinal), from `since` on."""
    start = since.toordinal()
    per_combo: dict[tuple[int, int, int], int] = {}
    invoiced, brands, segments, totals = book.invoiced, book.brand, book.segment, book.total
    for row in range(len(book)):
        day = invoiced[row]
        if day >= start:
            key = (brands[row], segments[row], day)
            per_combo[key] = per_combo.get(key, 0) + totals[row]
    out: dict[str, dict[int, int]] = {}
    for (brand, segment, day), cents in per_combo.items():
        for group in _keys((brand, segment)):
            per_day = out.setdefault(group, {})
            per_day[day] = per_day.get(day, 0) + cents
    return out


class DailySales:
    """A group's sales per day, summed over any stretch of days in two look-ups."""

    def __init__(self, per_day: dict[int, int]) -> None:
        self.days = sorted(per_day)
        self.sums = [0]
        for day in self.days:
            self.sums.append(self.sums[-1] + per_day[day])

    def between(self, first: dt.date, last: dt.date) -> int:
        """Sales from `first` to `last`, both included."""
        a = bisect_left(self.days, first.toordinal())
        b = bisect_right(self.days, last.toordinal())
        return self.sums[b] - self.sums[a]


def periods_before(day: dt.date, count: int) -> list[tuple[dt.date, dt.date]]:
    """(first, last) of `day`'s month up to `day`, then the whole months before it, newest
    first: the periods of a countback on `day`."""
    periods = [(day.replace(day=1), day)]
    first = day.replace(day=1)
    for _ in range(count - 1):
        last = first - dt.timedelta(days=1)
        first = last.replace(day=1)
        periods.append((first, last))
    return periods


def countback(receivable: int, periods: Iterable[tuple[int, int]]) -> float | None:
    """Countback DSO: `periods` are (sales, days), the newest first. None when more is owed
    than all the periods sold (the figure would mean nothing)."""
    if receivable <= 0:
        return 0.0
    left, days = receivable, 0.0
    for sales, length in periods:
        if sales >= left:
            return days + length * left / sales
        left -= sales
        days += length
    return None


def standard(receivable: int, sales: int, days: int) -> float | None:
    """Standard DSO: receivables over the period's sales, times its days."""
    return receivable / sales * days if sales > 0 else None


@dataclass(frozen=True)
class Point:
    """The DSO figures of one day (a month end, or today)."""

    day: dt.date
    sales: int
    receivable: int
    current: int
    countback: float | None
    standard: float | None
    best: float | None

    @property
    def delinquent(self) -> float | None:
        """Average days delinquent: standard DSO minus best possible DSO."""
        if self.standard is None or self.best is None:
            return None
        return self.standard - self.best

    def as_json(self) -> dict[str, object]:
        """For the prepared figures."""
        return {
            "day": self.day.isoformat(),
            "sales": self.sales,
            "receivable": self.receivable,
            "current": self.current,
            "countback": _round(self.countback),
            "standard": _round(self.standard),
            "best": _round(self.best),
            "delinquent": _round(self.delinquent),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def points(
    book: Book, days: Sequence[dt.date], partial: dict[int, list[tuple[int, int]]] | None = None
) -> dict[str, list[Point]]:
    """DSO per group at each day of `days` (ascending). On a month end the period is the
    month; on another day the standard and best possible DSO take the last 91 days, and
    the countback starts with the month so far."""
    result = receivables(book, days, partial)
    earliest = periods_before(days[0], MAX_COUNTBACK_PERIODS)[-1][0]
    sales = sales_by_day(book, earliest)
    out: dict[str, list[Point]] = {}
    for key in result.ar:
        per_day = DailySales(sales.get(key, {}))
        series = []
        for index, day in enumerate(days):
            periods = [
                (per_day.between(first, last), (last - first).days + 1)
                for first, last in periods_before(day, MAX_COUNTBACK_PERIODS)
            ]
            if day == month_end(day):
                own_sales, own_days = periods[0]
            else:  # a month begun says little: the last 91 days instead
                own_days = TRAILING_DAYS
                own_sales = per_day.between(day - dt.timedelta(days=own_days - 1), day)
            ar, cur = result.ar[key][index], result.current[key][index]
            series.append(
                Point(
                    day=day,
                    sales=own_sales,
                    receivable=ar,
                    current=cur,
                    countback=countback(ar, periods),
                    standard=standard(ar, own_sales, own_days),
                    best=standard(cur, own_sales, own_days),
                )
            )
        out[key] = series
    return out
