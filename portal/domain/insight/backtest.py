"""How good are the predictions? Predict the last 13 weeks (about 90 days) from what was
known before them, and compare with what happened.

The model is fitted on what was known at the end of the day before the cut-off (a Monday
13 weeks before this week's). It predicts every invoice open at the cut-off and every
invoice issued since, each from the day it was open or issued. Then:

* day accuracy: of the invoices paid since, the share paid within 7 days of the predicted
  day, beside the same for "pays on the due date" (or at once, when already overdue);
* calibration: invoices not yet due when predicted, grouped by their chance of being paid
  late (0-10%, 10-20%, ...), with the share that was paid late (or is still unpaid past its
  due date); undecided ones (still open, not yet due) are left out;
* the cash forecast of each past week as it would have been made at its start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from statistics import median

from portal.domain.insight.book import PAID_BY_CREDIT, Book
from portal.domain.insight.forecast import monday
from portal.domain.insight.predict import Model, fit

WEEKS = 13
WITHIN_DAYS = 7
BUCKETS = 10


def cutoff(day: dt.date) -> dt.date:
    """The first day predicted: the Monday 13 weeks before this week's Monday."""
    return monday(day) - dt.timedelta(weeks=WEEKS)


@dataclass
class Backtest:
    """The outcome of predicting from `start` to `end` (both dates)."""

    start: dt.date
    end: dt.date
    predicted: int = 0
    paid: int = 0
    still_open: int = 0
    within: int = 0
    within_due: int = 0
    errors: list[int] = field(default_factory=list)
    errors_due: list[int] = field(default_factory=list)
    # per bucket of the late chance: [count, sum of chances, late]
    calibration: list[list[float]] = field(
        default_factory=lambda: [[0, 0.0, 0] for _ in range(BUCKETS)]
    )
    squared: float = 0.0  # the sum of (chance - outcome)^2, for the Brier score
    weeks: list[dt.date] = field(default_factory=list)
    week_forecast: list[float] = field(default_factory=list)

    def score(self, actual: int | None, predicted: int | None, elapsed: int) -> None:
        """One invoice: days after its due date it was paid (None: still open), predicted."""
        self.predicted += 1
        if actual is None:
            self.still_open += 1
            return
        self.paid += 1
        naive = max(elapsed, 0)
        self.errors_due.append(abs(actual - naive))
        if abs(actual - naive) <= WITHIN_DAYS:
            self.within_due += 1
        if predicted is None:
            self.errors.append(abs(actual - elapsed))
            return
        self.errors.append(abs(actual - predicted))
        if abs(actual - predicted) <= WITHIN_DAYS:
            self.within += 1

    def calibrate(self, chance: float, late: bool) -> None:
        """An invoice not yet due when predicted, whose lateness is known now."""
        cell = self.calibration[min(int(chance * BUCKETS), BUCKETS - 1)]
        cell[0] += 1
        cell[1] += chance
        cell[2] += 1 if late else 0
        self.squared += (chance - (1.0 if late else 0.0)) ** 2

    def as_json(self) -> dict[str, object]:
        """For the prepared figures."""
        decided = sum(int(c[0]) for c in self.calibration)
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "predicted": self.predicted,
            "paid": self.paid,
            "still_open": self.still_open,
            "within": self.within,
            "within_due": self.within_due,
            "within_share": self.within / self.paid if self.paid else None,
            "within_due_share": self.within_due / self.paid if self.paid else None,
            "median_error": median(self.errors) if self.errors else None,
            "median_error_due": median(self.errors_due) if self.errors_due else None,
            "calibration": [
                {
                    "low": n / BUCKETS,
                    "high": (n + 1) / BUCKETS,
                    "count": int(count),
                    "predicted": chances / count if count else None,
                    "observed": late / count if count else None,
                }
                for n, (count, chances, late) in enumerate(self.calibration)
            ],
            "decided": decided,
            "brier": self.squared / decided if decided else None,
            "weeks": [w.isoformat() for w in self.weeks],
            "week_forecast": [round(v) for v in self.week_forecast],
        }


def known_until(day: dt.date) -> int:
    """The last day (ordinal) whose payments the backtest's model may know."""
    return cutoff(day).toordinal() - 1


def run(book: Book, model: Model | None = None) -> Backtest:
    """Predict from the cut-off to the book's day with what was known before, and score.
    `model` is the one fitted up to `known_until(book.day)` when the caller has it."""
    start = cutoff(book.day)
    known = known_until(book.day)
    end = book.day.toordinal() - 1  # payments are known up to yesterday
    if model is None or model.known != known:
        model = fit(book, known)
    result = Backtest(start, book.day)
    result.weeks = [start + dt.timedelta(weeks=n) for n in range(WEEKS)]
    result.week_forecast = [0.0] * WEEKS
    firsts = [w.toordinal() for w in result.weeks]
    for _debtor, rows in book.debtors():
        blend = None
        for row in rows:
            invoiced, paid = book.invoiced[row], book.paid[row]
            if invoiced > end or (paid and paid <= known):
                continue  # not issued in time, or settled before the cut-off
            if blend is None:
                blend = model.blend(book, rows)
            due = book.due[row]
            credited = book.how[row] == PAID_BY_CREDIT and bool(paid)
            amount = book.total[row] if paid else book.open[row]
            before = None  # the curve at the end of the day before the week
            for index, first in enumerate(firsts):
                if invoiced < first and not (paid and paid < first):
                    if before is None:
                        before = blend(first - due - 1)
                    after = blend(first + 6 - due)
                    if before > 1e-9:  # paid in the week, given unpaid when it began
                        result.week_forecast[index] += amount * max(0.0, 1 - after / before)
                    before = after
                else:
                    before = None
            if credited:
                continue
            elapsed = max(known + 1, invoiced) - due
            prediction = blend.predict(elapsed)
            settled = paid if paid and paid <= end else None
            result.score(None if settled is None else settled - due, prediction.days, elapsed)
            if elapsed <= 0:
                if settled is not None:
                    result.calibrate(prediction.late, settled > due)
                elif due < end + 1:
                    result.calibrate(prediction.late, True)
    return result
