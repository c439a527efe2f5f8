"""Statutory interest: Dutch consumer (art. 6:119 BW) and commercial (art. 6:119a BW),
and the Belgian commercial rate (law of 2 August 2002, art. 5).

Rates change by half-year (1 January, 1 July) and live in the `interest_rate` table: the
migrations ship the published ones with their sources, admins add each new half-year.
Interest runs from the day after the due date, per day at the rate of that day's
half-year (a year counted as 365 days). Dutch interest is compounded yearly: after each
full year since the start, the year's interest is added to the principal; Belgian
commercial interest is simple (`compound=False`). Which rule applies is `terms`' answer.

A half-year without a rate is never guessed: `MissingRate` names it, and no interest is
charged until an admin adds it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.problems import N_, Problem
from portal.models import InterestRate

KINDS = ("consumer", "commercial", "be_commercial")  # NL 6:119, NL 6:119a, BE 2 Aug 2002


class MissingRate(LookupError):
    """No rate is known for the half-year starting on `half_year`."""

    def __init__(self, kind: str, half_year: dt.date) -> None:
        super().__init__(f"no {kind} interest rate for the half-year from {half_year}")
        self.kind = kind
        self.half_year = half_year


def half_year_of(day: dt.date) -> dt.date:
    """1 January or 1 July: the start of the day's half-year."""
    return dt.date(day.year, 1 if day.month <= 6 else 7, 1)


def _next_half_year(day: dt.date) -> dt.date:
    start = half_year_of(day)
    return dt.date(start.year, 7, 1) if start.month == 1 else dt.date(start.year + 1, 1, 1)


def _anniversary(start: dt.date, years: int) -> dt.date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return dt.date(start.year + years, 3, 1)


def statutory_interest(
    principal_cents: int,
    due_date: dt.date,
    until: dt.date,
    rates: Mapping[dt.date, int],
    kind: str = "consumer",
    compound: bool = True,
) -> int:
    """Interest in cents on `principal_cents` for the days after `due_date` up to `until`.

    `rates` maps the first day of a half-year to its rate in basis points (7% = 700);
    `compound` adds each full year's interest to the principal (Dutch law).
    """
    if principal_cents <= 0 or until <= due_date:
        return 0
    start = due_date + dt.timedelta(days=1)
    capital = Fraction(principal_cents)
    this_year = Fraction(0)
    years = 0
    day = start
    end = until + dt.timedelta(days=1)  # exclusive
    while day < end:
        anniversary = _anniversary(start, years + 1)
        segment_end = min(end, _next_half_year(day), anniversary)
        half = half_year_of(day)
        if half not in rates:
            raise MissingRate(kind, half)
        days = (segment_end - day).days
        this_year += capital * rates[half] * days / (10_000 * 365)
        day = segment_end
        if day == anniversary:
            if compound:  # a full year's interest joins the principal (art. 6:119 lid 2 BW)
                capital += this_year
                this_year = Fraction(0)
            years += 1
    interest = capital + this_year - principal_cents
    return int(interest + Fraction(1, 2))  # half a cent and more rounds up


def rates(session: Session, kind: str) -> dict[dt.date, int]:
    """The table for one kind: half-year start → basis points."""
    rows = session.execute(
        select(InterestRate.valid_from, InterestRate.basis_points).where(InterestRate.kind == kind)
    )
    return {valid_from: basis_points for valid_from, basis_points in rows}


def missing_half_years(session: Session, today: dt.date) -> list[tuple[str, dt.date]]:
    """Per kind, the first half-year up to today's that has no rate (for the admin's
    notice): a gap in the table as well as the newest half-years."""
    missing = []
    for kind in KINDS:
        known = rates(session, kind)
        day = min(known) if known else half_year_of(today)
        while day <= today:
            if day not in known:
                missing.append((kind, day))
                break
            day = _next_half_year(day)
    return missing


class RateRefused(ValueError):
    """An admin's new rate cannot be stored; `problem` says why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.msgid)
        self.problem = problem


def add_rate(
    session: Session, kind: str, valid_from: dt.date, basis_points: int, actor: str
) -> InterestRate:
    """Store the rate of a half-year (the caller commits); raises RateRefused."""
    if kind not in KINDS:
        raise RateRefused(Problem(N_("Choose one of the interest tables.")))
    if valid_from != half_year_of(valid_from):
        raise RateRefused(Problem(N_("A rate starts on 1 January or 1 July.")))
    if not 0 <= basis_points <= 5000:
        raise RateRefused(Problem(N_("Enter a percentage between 0 and 50.")))
    if valid_from in rates(session, kind):
        raise RateRefused(
            Problem(N_("There is a rate for this half-year already; it cannot be changed."))
        )
    row = InterestRate(
        kind=kind, valid_from=valid_from, basis_points=basis_points, created_by=actor
    )
    session.add(row)
    audit.record(
        session,
        actor,
        "admin.interest_rate_added",
        kind=kind,
        valid_from=valid_from.isoformat(),
        basis_points=basis_points,
    )
    return row
