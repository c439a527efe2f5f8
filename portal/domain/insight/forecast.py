"""The cash forecast: money expected in per week for the next 13 weeks (Monday to Sunday;
the first week is the current one, from today).

Each open invoice adds its open amount times the chance that it is paid in that week
(predict.Blend.paid_between). An invoice promised by a day still to come counts in full in
the week of that day; invoices in a running payment plan count through the plan's open
instalments on their due dates (one overdue counts this week). Disputed and handed-over
invoices are left out and shown apart. Money that came in counts an invoice's total in the
week it was settled by payment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from portal.domain.insight.book import DISPUTED, HANDED_OVER, IN_PLAN, PAID_BY_CREDIT, Book
from portal.domain.insight.predict import Blend, Prediction

WEEKS = 13


def monday(day: dt.date) -> dt.date:
    """The Monday of `day`'s week."""
    return day - dt.timedelta(days=day.weekday())


def week_starts(day: dt.date, count: int = WEEKS) -> list[dt.date]:
    """The Mondays of `count` weeks from `day`'s week on."""
    first = monday(day)
    return [first + dt.timedelta(weeks=n) for n in range(count)]


@dataclass
class Forecast:
    """Expected cents per week: from predictions, promises and plan instalments; what is
    expected later than the last week (or never), and what is left out."""

    day: dt.date
    weeks: list[dt.date]
    predicted: list[float] = field(default_factory=list)
    promised: list[int] = field(default_factory=list)
    instalments: list[int] = field(default_factory=list)
    later: float = 0.0
    disputed: int = 0
    handed_over: int = 0

    def __post_init__(self) -> None:
        n = len(self.weeks)
        self.predicted = self.predicted or [0.0] * n
        self.promised = self.promised or [0] * n
        self.instalments = self.instalments or [0] * n
        self._firsts = [w.toordinal() for w in self.weeks]

    def week_of(self, ordinal: int) -> int | None:
        """The index of the week holding the day, None when after the last."""
        first = self._firsts[0]
        if ordinal < first:
            return 0
        index = (ordinal - first) // 7
        return index if index < len(self.weeks) else None

    def expected(self, index: int) -> int:
        """All money expected in week `index`, in cents."""
        return round(self.predicted[index]) + self.promised[index] + self.instalments[index]

    def add_invoice(self, book: Book, row: int, blend: Blend, prediction: Prediction) -> None:
        """Spread an open invoice's amount over the weeks."""
        cents = book.open[row]
        if book.status[row] == HANDED_OVER:
            self.handed_over += cents
            return
        if book.flags[row] & DISPUTED:
            self.disputed += cents
            return
        if book.flags[row] & IN_PLAN:
            return  # its instalments count instead
        promised = book.promised.get(row)
        if promised is not None:
            index = self.week_of(promised)
            if index is None:
                self.later += cents
            else:
                self.promised[index] += cents
            return
        due = book.due[row]
        elapsed = self.day.toordinal() - due
        start = prediction.start
        if start <= 0:
            self.later += cents
            return
        # the curve at each week's end: what is paid in a week is the drop over it
        before = blend(max(self._firsts[0] - due, elapsed) - 1)
        placed = 0.0
        for index, first in enumerate(self._firsts):
            last = first + 6 - due
            if last < elapsed:
                continue
            after = blend(last)
            share = max(0.0, (before - after) / start)
            before = after
            self.predicted[index] += cents * share
            placed += share
        self.later += cents * max(0.0, 1.0 - placed)

    def add_instalments(self, instalments: list[tuple[int, int, int]]) -> None:
        """Open instalments of running plans, (due ordinal, cents, debtor id)."""
        for due, cents, _debtor in instalments:
            index = self.week_of(due)
            if index is None:
                self.later += cents
            else:
                self.instalments[index] += cents

    def as_json(self) -> dict[str, object]:
        """For the prepared figures."""
        return {
            "day": self.day.isoformat(),
            "weeks": [w.isoformat() for w in self.weeks],
            "predicted": [round(v) for v in self.predicted],
            "promised": self.promised,
            "instalments": self.instalments,
            "expected": [self.expected(i) for i in range(len(self.weeks))],
            "later": round(self.later),
            "disputed": self.disputed,
            "handed_over": self.handed_over,
        }


def came_in(book: Book, weeks: list[dt.date]) -> tuple[list[int], list[int]]:
    """Money that came in per week (Monday `weeks`): from invoices issued before the week
    began, and from invoices issued during it."""
    older = [0] * len(weeks)
    newer = [0] * len(weeks)
    firsts = [w.toordinal() for w in weeks]
    start, end = firsts[0], firsts[-1] + 7
    for row in range(len(book)):
        paid = book.paid[row]
        if not paid or paid < start or paid >= end or book.how[row] == PAID_BY_CREDIT:
            continue
        index = (paid - start) // 7
        if book.invoiced[row] < firsts[index]:
            older[index] += book.total[row]
        else:
            newer[index] += book.total[row]
    return older, newer
