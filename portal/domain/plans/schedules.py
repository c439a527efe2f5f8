"""Payment plans: the arithmetic of a schedule of instalments and the policy it must meet.

Pure functions, no session: `schedule()` splits a total over a number of instalments,
`by_amount()` over instalments of a chosen size, and `check()` says which rules of a
`Policy` a plan breaks, as `Problem` messages translated when shown. Amounts are cents and
always add up to the total exactly; the last instalment takes the remainder. With a down
payment the first instalment is `down_payment()` of the total and the rest is split after
it the same way.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from portal.domain.money import AmountError, parse_amount
from portal.domain.problems import N_, Problem

MONTHLY = "monthly"
BIWEEKLY = "biweekly"
FREQUENCIES = (MONTHLY, BIWEEKLY)
# why a frequency the policy does not offer is refused, by what it does offer
ONLY_OFFERED: dict[tuple[str, ...], str] = {
    (MONTHLY,): N_("Instalments can only be paid every month."),
    (BIWEEKLY,): N_("Instalments can only be paid every two weeks."),
}
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
    """A proposed plan: the total and its instalments (due date, cents), oldest first;
    `frequency` is checked against the policy when it is given."""

    total_cents: int
    instalments: tuple[tuple[dt.date, int], ...]
    frequency: str | None = None

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


def down_payment(total_cents: int, pct: int) -> int:
    """The first instalment a down payment of `pct` percent asks: rounded up to the cent."""
    if not 0 <= pct <= 100:
        raise ValueError("the down payment is a percentage between 0 and 100")
    return -(-total_cents * pct // 100)


def _split(total_cents: int, count: int) -> list[int]:
    """`total_cents` in `count` equal amounts (never one of nothing); the last takes the rest."""
    count = min(count, total_cents)
    base = total_cents // count
    return [base] * (count - 1) + [total_cents - base * (count - 1)]


def _with_down_payment(total_cents: int, pct: int) -> tuple[list[int], int]:
    """The down payment as a list (empty without one) and what is left after it."""
    first = min(down_payment(total_cents, pct), total_cents) if pct else 0
    if first <= 0:
        return [], total_cents
    return [first], total_cents - first  # a tiny total may be all down payment


def schedule(
    total_cents: int, count: int, start: dt.date, frequency: str, down_payment_pct: int = 0
) -> Schedule:
    """`total_cents` split over `count` equal instalments; the last takes the remainder.
    With `down_payment_pct` the first is `down_payment()` and the other `count - 1` split
    what is left."""
    if total_cents <= 0:
        raise ValueError("the total must be positive")
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"the number of instalments must lie between 1 and {MAX_COUNT}")
    head, rest = _with_down_payment(total_cents, down_payment_pct) if count > 1 else ([], 0)
    if not head:
        amounts = _split(total_cents, count)
    else:
        amounts = head + (_split(rest, count - 1) if rest else [])
    return list(zip(due_dates(start, len(amounts), frequency), amounts, strict=True))


def by_amount(
    total_cents: int,
    per_instalment_cents: int,
    start: dt.date,
    frequency: str,
    down_payment_pct: int = 0,
) -> Schedule:
    """`total_cents` in instalments of `per_instalment_cents`; the last pays what is left.
    With `down_payment_pct` the first is `down_payment()` and the instalments follow it."""
    if total_cents <= 0:
        raise ValueError("the total must be positive")
    if per_instalment_cents <= 0:
        raise ValueError("the instalment must be positive")
    head, rest = _with_down_payment(total_cents, down_payment_pct)
    count = -(-rest // per_instalment_cents)
    if count + len(head) > MAX_COUNT:
        raise ValueError(f"more than {MAX_COUNT} instalments")
    amounts = head + [per_instalment_cents] * (count - 1)
    if rest:
        amounts.append(rest - per_instalment_cents * (count - 1))
    return list(zip(due_dates(start, len(amounts), frequency), amounts, strict=True))


def plan_of(total_cents: int, rows: Schedule, frequency: str | None = None) -> Plan:
    return Plan(total_cents=total_cents, instalments=tuple(rows), frequency=frequency)


def euros(cents: int) -> str:
    """An amount for a message: '€ 1.234,50' (the way Dutch and Belgian readers write it)."""
    whole, rest = divmod(abs(cents), 100)
    text = f"{whole:,}".replace(",", ".") + f",{rest:02d}"
    return f"{'-' if cents < 0 else ''}€ {text}"


def check(policy: Policy, plan: Plan) -> list[Problem]:
    """The rules of `policy` that `plan` breaks; empty when it may be arranged as is."""
    problems: list[Problem] = []
    if plan.frequency is not None and plan.frequency not in policy.frequencies:
        problems.append(
            Problem(ONLY_OFFERED.get(policy.frequencies, N_("Choose how often from the list.")))
        )
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
    if policy.down_payment_pct and plan.instalments:
        needed = down_payment(plan.total_cents, policy.down_payment_pct)
        if plan.instalments[0][1] < needed:
            problems.append(
                Problem(
                    N_(
                        "The first instalment must be at least %(amount)s (%(pct)d%% of the total)."
                    ),
                    amount=euros(needed),
                    pct=policy.down_payment_pct,
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


def instalment_cents(text: str | None) -> int | None:
    """The amount per instalment a plan form asks for (the portal's and admin's alike),
    typed as 50,00 or 50.00; None when left empty. Raises AmountError for anything that is
    not an amount above zero."""
    if not (text or "").strip():
        return None
    cents = parse_amount(text or "")
    if cents <= 0:
        raise AmountError(f"not an instalment: {text!r}")
    return cents
