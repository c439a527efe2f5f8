"""Payment plans: the arithmetic of a schedule of instalments and the policy it must meet.

Pure functions, no session: `schedule()` splits a total over a number of instalments,
`by_amount()` over instalments of a chosen size, and `check()` says which rules of a
`Policy` a plan breaks, as `Problem` messages translated when shown. Amounts are cents and
always add up to the total exactly; the last instalment takes the remainder.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from portal.domain.problems import N_, Problem

MONTHLY = "monthly"
BIWEEKLY = "biweekly"
FREQUENCIES = (MONTHLY, BIWEEKLY)
MAX_COUNT = 120  # no schedule is ever longer than this, whatever a form asks


Schedule = list[tuple[dt.date, int]]


@dataclass(frozen=True)
class Policy:
    """What a debtor may arrange without a person looking at it."""

    min_total_cents: int = 10_000
    max_instalments: int = 6
    min_instalment_cents: int = 2_500
    max_days: int = 180
    auto_approve: bool = True
    down_payment_pct: int = 0  # the first instalment is at least this share of the total
    frequencies: tuple[str, ...] = ("monthly", "biweekly")
    breach_days: int = 14  # an instalment this many days late ends the plan


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Plan:
    """A proposed plan: the total and its instalments (due date, cents), oldest first."""

    total_cents: int
    instalments: tuple[tuple[dt.date, int], ...]

    @property
    def start(self) -> dt.date:
        return self.instalments[0][0]

    @property
    def end(self) -> dt.date:
        return self.instalments[-1][0]

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved `months` ahead; the 31st becomes the last day of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def due_dates(start: dt.date, count: int, frequency: str) -> list[dt.date]:
    """The `count` due dates from `start`, each counted from `start` so none drifts."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown frequency: {frequency!r}")
    if frequency == MONTHLY:
        return [add_months(start, i) for i in range(count)]
    return [start + dt.timedelta(days=14 * i) for i in range(count)]


def schedule(total_cents: int, count: int, start: dt.date, frequency: str) -> Schedule:
    """`total_cents` split over `count` equal instalments; the last takes the remainder."""
    if total_cents <= 0:
        raise ValueError("the total must be positive")
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"the number of instalments must lie between 1 and {MAX_COUNT}")
    count = min(count, total_cents)  # never an instalment of nothing
    base = total_cents // count
    amounts = [base] * (count - 1) + [total_cents - base * (count - 1)]
    return list(zip(due_dates(start, count, frequency), amounts, strict=True))


def by_amount(
    total_cents: int, per_instalment_cents: int, start: dt.date, frequency: str
) -> Schedule:
    """`total_cents` in instalments of `per_instalment_cents`; the last pays what is left."""
    if total_cents <= 0:
        raise ValueError("the total must be positive")
    if per_instalment_cents <= 0:
        raise ValueError("the instalment must be positive")
    count = -(-total_cents // per_instalment_cents)
    if count > MAX_COUNT:
        raise ValueError(f"more than {MAX_COUNT} instalments")
    amounts = [per_instalment_cents] * (count - 1)
    amounts.append(total_cents - per_instalment_cents * (count - 1))
    return list(zip(due_dates(start, count, frequency), amounts, strict=True))


def plan_of(total_cents: int, rows: Schedule) -> Plan:
    return Plan(total_cents=total_cents, instalments=tuple(rows))


def euros(cents: int) -> str:
    """An amount for a message: '€ 1.234,50' (the way Dutch and Belgian readers write it)."""
    whole, rest = divmod(abs(cents), 100)
    text = f"{whole:,}".replace(",", ".") + f",{rest:02d}"
    return f"{'-' if cents < 0 else ''}€ {text}"


def check(policy: Policy, plan: Plan) -> list[Problem]:
    """The rules of `policy` that `plan` breaks; empty when it may be arranged as is."""
    problems: list[Problem] = []
    if plan.total_cents < policy.min_total_cents:
        problems.append(
            Problem(
                N_("A payment plan is possible from a total of %(amount)s."),
                amount=euros(policy.min_total_cents),
            )
        )
    if len(plan.instalments) > policy.max_instalments:
        problems.append(
            Problem(
                N_("A payment plan has at most %(count)d instalments."),
                count=policy.max_instalments,
            )
        )
    if any(cents < policy.min_instalment_cents for _, cents in plan.instalments):
        problems.append(
            Problem(
                N_("Each instalment must be at least %(amount)s."),
                amount=euros(policy.min_instalment_cents),
            )
        )
    if plan.days > policy.max_days:
        problems.append(
            Problem(N_("A payment plan must be paid within %(days)d days."), days=policy.max_days)
        )
    return problems


def check_start(start: dt.date, today: dt.date, latest_days: int = 30) -> list[Problem]:
    """The first instalment falls between today and `latest_days` from now."""
    if start < today:
        return [Problem(N_("The first instalment cannot fall in the past."))]
    if start > today + dt.timedelta(days=latest_days):
        return [
            Problem(N_("The first instalment must fall within %(days)d days."), days=latest_days)
        ]
    return []
