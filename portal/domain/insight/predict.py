"""When will an open invoice be paid? A model chosen to be explained in a sentence:

For each debtor we estimate the chance that an invoice is still unpaid so many days after
its due date (a survival curve, Kaplan-Meier, so invoices still open count for the days
they have been open), from the debtor's own invoices, recent ones counting more (a year
older weighs half). A debtor with few invoices says little, so its curve is blended with
its segment's: the debtor's own curve weighs n / (n + k), where n is the (weighted) number
of its invoices and k is estimated from the segment's data (empirical Bayes: how much
debtors differ compared to how much one debtor's invoices differ). Beyond the debtor's own
experience the segment's curve continues it.

For an open invoice that has been unpaid for e days after its due date, the predicted day
is the median of the blended curve from e on; the chance it is paid late is the chance it
is paid after its due date given what is known now.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from portal.domain.insight.book import PAID_BY_CREDIT, Book

EARLIEST, LATEST = -60, 365  # days after the due date the model tells apart
HALF_LIFE_DAYS = 365
MIN_SEGMENT_WEIGHT = 20.0  # less than this: a segment borrows the whole book's curve
K_BOUNDS = (1.0, 25.0)
K_DEFAULT = 5.0
_LN2 = math.log(2)


class Curve:
    """S(x): the chance an invoice is still unpaid x days after its due date, a step
    function through `times` (ascending) and `values`. Past its last time it follows
    `tail` (relatively), or stays flat without one."""

    __slots__ = ("last", "tail", "times", "values")

    def __init__(self, times: list[int], values: list[float], tail: Curve | None = None):
        self.times = times
        self.values = values
        self.tail = tail
        self.last = times[-1] if times else None

    def __call__(self, x: int) -> float:
        times = self.times
        if not times:
            return self.tail(x) if self.tail is not None else 1.0
        if x < times[0]:
            return 1.0
        if x > times[-1]:
            end = self.values[-1]
            if self.tail is None or end <= 0.0:
                return end
            anchor = self.tail(times[-1])
            return end * self.tail(x) / anchor if anchor > 0 else 0.0
        return self.values[bisect_right(times, x) - 1]


class Dense(Curve):
    """A curve looked up by index: every day from EARLIEST to LATEST computed once (the
    segments' curves, asked millions of times a night)."""

    __slots__ = ("table",)

    def __init__(self, curve: Curve) -> None:
        super().__init__(curve.times, curve.values, curve.tail)
        self.table = [curve(x) for x in range(EARLIEST, LATEST + 1)]

    def __call__(self, x: int) -> float:
        if x < EARLIEST:
            return 1.0
        if x > LATEST:
            return self.table[-1]
        return self.table[x - EARLIEST]


class Tally:
    """Weighted observations (x, weight, paid) gathered for a Kaplan-Meier curve: paid x
    days after the due date, or (paid False) still unpaid x days after it."""

    __slots__ = ("events", "weight", "weight_at")

    def __init__(self) -> None:
        self.events: dict[int, float] = {}
        self.weight_at: dict[int, float] = {}
        self.weight = 0.0

    def add(self, x: int, weight: float, paid: bool) -> None:
        """One observation."""
        self.weight_at[x] = self.weight_at.get(x, 0.0) + weight
        self.weight += weight
        if paid:
            self.events[x] = self.events.get(x, 0.0) + weight

    @classmethod
    def merged(cls, tallies: Iterable[Tally]) -> Tally:
        """One tally of everything in `tallies`."""
        out = cls()
        for tally in tallies:
            for x, weight in tally.weight_at.items():
                out.weight_at[x] = out.weight_at.get(x, 0.0) + weight
            for x, weight in tally.events.items():
                out.events[x] = out.events.get(x, 0.0) + weight
            out.weight += tally.weight
        return out

    def curve(self, tail: Curve | None = None) -> Curve:
        """The Kaplan-Meier curve of what was added."""
        remaining = self.weight
        survival = 1.0
        times, values = [], []
        for x in sorted(self.weight_at):
            paid_now = self.events.get(x, 0.0)
            if paid_now > 0 and remaining > 0:
                survival *= max(0.0, 1.0 - paid_now / remaining)
            times.append(x)
            values.append(survival)
            remaining -= self.weight_at[x]
        return Curve(times, values, tail)


def kaplan_meier(
    observations: Iterable[tuple[int, float, bool]], tail: Curve | None = None
) -> Curve:
    """The survival curve of weighted observations (x, weight, paid)."""
    tally = Tally()
    for x, weight, paid in observations:
        tally.add(x, weight, paid)
    return tally.curve(tail)


def clip(days: int) -> int:
    """Days after the due date within what the model tells apart."""
    return EARLIEST if days < EARLIEST else LATEST if days > LATEST else days


# recency weights by age in days: a year older weighs half
DECAY = [math.exp(-_LN2 * d / HALF_LIFE_DAYS) for d in range(6 * 366)]


def recency(known: int, due: int) -> float:
    """The weight of an invoice due on `due` (ordinal) as seen on day `known`: a year
    older weighs half."""
    age = known - due
    if age <= 0:
        return 1.0
    return DECAY[age] if age < len(DECAY) else math.exp(-_LN2 * age / HALF_LIFE_DAYS)


def observations(book: Book, rows: range, known: int) -> Iterator[tuple[int, float, bool]]:
    """What the rows say as known at the end of day `known` (an ordinal): paid invoices
    with their days after the due date, open ones past their due date as still unpaid
    so far. Invoices settled by a credit note and invoices not yet issued say nothing."""
    invoiced, dues, paids, hows = book.invoiced, book.due, book.paid, book.how
    decay, size = DECAY, len(DECAY)
    for row in rows:
        if invoiced[row] > known:
            continue
        due = dues[row]
        age = known - due
        weight = 1.0 if age <= 0 else decay[age] if age < size else recency(known, due)
        paid = paids[row]
        if paid and paid <= known:
            if hows[row] != PAID_BY_CREDIT:
                days = paid - due
                yield (
                    (EARLIEST if days < EARLIEST else LATEST if days > LATEST else days),
                    weight,
                    True,
                )
        elif age >= 0:
            yield (LATEST if age > LATEST else age), weight, False


@dataclass
class _Spread:
    """Per-debtor event statistics of a segment, for its prior strength k."""

    debtors: list[tuple[int, float, float]] = field(default_factory=list)  # (n, mean, var)

    def add(self, delays: list[int]) -> None:
        n = len(delays)
        if n < 2:
            return
        mean = sum(delays) / n
        var = sum((d - mean) ** 2 for d in delays) / (n - 1)
        self.debtors.append((n, mean, var))

    def strength(self) -> float:
        """k = within-debtor variance / between-debtor variance (method of moments)."""
        if len(self.debtors) < 5:
            return K_DEFAULT
        within_df = sum(n - 1 for n, _m, _v in self.debtors)
        within = sum((n - 1) * v for n, _m, v in self.debtors) / within_df
        means = [m for _n, m, _v in self.debtors]
        grand = sum(means) / len(means)
        spread = sum((m - grand) ** 2 for m in means) / (len(means) - 1)
        between = spread - within * sum(1 / n for n, _m, _v in self.debtors) / len(means)
        if between <= 0:
            return K_BOUNDS[1]
        return min(max(within / between, K_BOUNDS[0]), K_BOUNDS[1])


@dataclass
class Model:
    """Segment curves and prior strengths fitted on what was known at the end of `known`."""

    known: int
    book_curve: Curve
    curves: dict[int, Curve]
    strength: dict[int, float]

    def segment(self, segment_id: int) -> Curve:
        """The segment's curve, or the whole book's when the segment has too little."""
        return self.curves.get(segment_id, self.book_curve)

    def blend(self, book: Book, rows: range) -> Blend:
        """The curve of the debtor owning `rows`."""
        segment_id = book.segment[rows[0]]
        segment = self.segment(segment_id)
        tally = Tally()
        for x, weight, paid in observations(book, rows, self.known):
            tally.add(x, weight, paid)
        if not tally.weight:
            return Blend(segment, None, 0.0)
        k = self.strength.get(segment_id, K_DEFAULT)
        return Blend(segment, tally.curve(tail=segment), tally.weight / (tally.weight + k))


def fit(book: Book, known: int) -> Model:
    """Fit segment curves on everything known at the end of day `known`."""
    return fit_many(book, [known])[0]


def fit_many(book: Book, knowns: list[int]) -> list[Model]:
    """Models as known at the end of each day of `knowns`, in one pass over the book."""
    tallies: list[dict[int, Tally]] = [{} for _ in knowns]
    spreads: list[dict[int, _Spread]] = [{} for _ in knowns]
    invoiced, dues, paids, hows = book.invoiced, book.due, book.paid, book.how
    decay, size = DECAY, len(DECAY)
    for _debtor, rows in book.debtors():
        segment_id = book.segment[rows[0]]
        for n, known in enumerate(knowns):
            tally = tallies[n].get(segment_id)
            if tally is None:
                tally = tallies[n][segment_id] = Tally()
            paid_days = []
            weight_at, events = tally.weight_at, tally.events
            total = 0.0
            # observations() and Tally.add written out: this loop runs twice a million times
            for row in rows:
                if invoiced[row] > known:
                    continue
                due = dues[row]
                age = known - due
                weight = 1.0 if age <= 0 else decay[age] if age < size else recency(known, due)
                paid = paids[row]
                if paid and paid <= known:
                    if hows[row] == PAID_BY_CREDIT:
                        continue
                    x = paid - due
                    x = EARLIEST if x < EARLIEST else LATEST if x > LATEST else x
                    events[x] = events.get(x, 0.0) + weight
                    paid_days.append(x)
                elif age >= 0:
                    x = LATEST if age > LATEST else age
                else:
                    continue
                weight_at[x] = weight_at.get(x, 0.0) + weight
                total += weight
            tally.weight += total
            if len(paid_days) > 1:
                spread = spreads[n].get(segment_id)
                if spread is None:
                    spread = spreads[n][segment_id] = _Spread()
                spread.add(paid_days)
    models = []
    for n, known in enumerate(knowns):
        book_curve = Dense(Tally.merged(tallies[n].values()).curve())
        curves: dict[int, Curve] = {
            segment_id: Dense(tally.curve(tail=book_curve))
            for segment_id, tally in tallies[n].items()
            if tally.weight >= MIN_SEGMENT_WEIGHT
        }
        strength = {segment_id: spread.strength() for segment_id, spread in spreads[n].items()}
        models.append(Model(known, book_curve, curves, strength))
    return models


@dataclass(frozen=True)
class Prediction:
    """Days after the due date the invoice is expected to be paid (None: not within a
    year), the chance it is paid after its due date, and S at the start (what is known)."""

    days: int | None
    late: float
    start: float


@dataclass
class Blend:
    """A debtor's curve blended with its segment's: w * own + (1 - w) * segment."""

    segment: Curve
    own: Curve | None
    weight: float

    def __call__(self, x: int) -> float:
        if self.own is None or self.weight <= 0:
            return self.segment(x)
        return self.weight * self.own(x) + (1 - self.weight) * self.segment(x)

    def predict(self, elapsed: int) -> Prediction:
        """For an invoice unpaid `elapsed` days after its due date (negative: not due yet),
        i.e. paid `elapsed` days after it or later."""
        start = self(elapsed - 1)
        if start <= 1e-9:
            return Prediction(None, 1.0 if elapsed > 0 else 0.0, 0.0)
        late = 1.0 if elapsed > 0 else min(1.0, self(0) / start)
        target = start / 2
        low, high = max(elapsed, EARLIEST), LATEST
        if self(high) > target:
            return Prediction(None, late, start)
        while low < high:
            middle = (low + high) // 2
            if self(middle) <= target:
                high = middle
            else:
                low = middle + 1
        return Prediction(low, late, start)

    def paid_between(self, prediction: Prediction, elapsed: int, first: int, last: int) -> float:
        """The chance that the invoice is paid from `first` to `last` days after its due
        date (both included), given it is unpaid `elapsed` days after it."""
        first = max(first, elapsed)
        if last < first or prediction.start <= 0:
            return 0.0
        return max(0.0, (self(first - 1) - self(last)) / prediction.start)

    def paid_in(self, elapsed: int, first: int, last: int) -> float:
        """`paid_between` without a prediction at hand."""
        start = self(elapsed - 1)
        if start <= 1e-9:
            return 0.0
        return self.paid_between(Prediction(None, 0.0, start), elapsed, first, last)
