"""A payer rating from a debtor's own history: a score 0-100 and good / average / poor.

The score starts at 100 and loses points for:

* lateness: the days paid after the due date, averaged with the invoice amounts as weights
  and recent invoices counting more (a year older weighs half). An invoice still open past
  its due date counts with the days it is late so far. Up to 50 points: 50 * L / (L + 10).
* recent lateness: the same average over invoices due in the last half year, up to 25
  points: this is the trend (a debtor who started paying late loses points quickly).
* broken promises to pay (7.5 points each, up to 15), breached payment plans (10 each, up
  to 15) and disputes we upheld (5 each, up to 10), all of the last two years.
* a bouncing email address (5 points).

Paying later never raises the score: every part grows with the days late, and the weights
do not depend on when an invoice was paid (a property test checks this).
Good is 70 and up, poor is below 45.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.domain.insight.predict import DECAY, recency

_SIZE = len(DECAY)

GOOD_FROM, AVERAGE_FROM = 70, 45
RECENT_DAYS = 182


@dataclass
class History:
    """What a rating is made from. `invoices` are (due ordinal, cents, days late, settled):
    days late is the payment day minus the due date, or for an invoice still open past its
    due date the days so far."""

    invoices: list[tuple[int, int, int, bool]] = field(default_factory=list)
    broken_promises: int = 0
    breached_plans: int = 0
    upheld_disputes: int = 0
    bouncing: bool = False


@dataclass(frozen=True)
class Rating:
    """A score, its grade, and the factors that cost points: (key, points lost, value),
    heaviest first (at most three)."""

    score: int
    grade: str
    factors: tuple[tuple[str, float, float], ...]
    basis: int
    days_late: float


def grade_of(score: int) -> str:
    """good, average or poor."""
    if score >= GOOD_FROM:
        return "good"
    if score >= AVERAGE_FROM:
        return "average"
    return "poor"


def rate(history: History, today: int) -> Rating | None:
    """The rating on day `today` (an ordinal); None without a single invoice that was due."""
    basis = 0
    weights = lateness = recent_weights = recent_lateness = 0.0
    for due, cents, late, settled in history.invoices:
        if not settled and due >= today:
            continue  # open and not due yet: nothing known
        age = today - due
        decay = 1.0 if age <= 0 else DECAY[age] if age < _SIZE else recency(today, due)
        weight = decay * (cents if cents > 1 else 1)
        days = late if late > 0 else 0
        basis += 1
        weights += weight
        lateness += weight * days
        if today - due <= RECENT_DAYS:
            recent_weights += weight
            recent_lateness += weight * days
    if not basis:
        return None
    overall = lateness / weights if weights > 0 else 0.0
    lately = recent_lateness / recent_weights if recent_weights > 0 else 0.0
    losses = [
        ("late", 50 * overall / (overall + 10), overall),
        ("recent", 25 * lately / (lately + 10), lately),
        ("promises", min(15.0, 7.5 * history.broken_promises), history.broken_promises),
        ("plans", min(15.0, 10.0 * history.breached_plans), history.breached_plans),
        ("disputes", min(10.0, 5.0 * history.upheld_disputes), history.upheld_disputes),
        ("bouncing", 5.0 if history.bouncing else 0.0, 1 if history.bouncing else 0),
    ]
    score = max(0, min(100, round(100 - sum(points for _key, points, _value in losses))))
    heaviest = sorted(
        (loss for loss in losses if loss[1] >= 0.5), key=lambda loss: loss[1], reverse=True
    )[:3]
    factors = tuple((key, round(points, 1), round(value, 1)) for key, points, value in heaviest)
    return Rating(score, grade_of(score), factors, basis, overall)
