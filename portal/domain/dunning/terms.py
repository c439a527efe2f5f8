"""The legal terms of dunning, in one place (DESIGN.md sections 5, 9 and 10).

Everything the law decides about reminders is answered here, and only here: which rules
apply to a debtor (the *regime*), which costs a step may announce and book, which interest
runs and from when, what counts as delivered, when a period starts and ends per channel,
and which business days there are. The run (`engine`), the booking (`charges`) and the
mails ask this module; none of them computes a fee, a deadline or a business day itself.

Regimes and their sources:

- ``nl_b2c``: a Dutch consumer. Collection costs by the WIK scale (Besluit vergoeding voor
  buitengerechtelijke incassokosten, art. 2) only after a 14-day letter that names them and
  gives 14 days from the day after receipt (art. 6:96 lid 6 BW); statutory interest
  (art. 6:119 BW) from the day after the due date, added to the principal after each year.
- ``be_b2c``: a Belgian consumer. Book XIX of the Code of Economic Law (art. XIX.2, in
  force since 1 September 2023): a free first reminder that states the due date, the
  amount and the compensation; only after its 14 days a fixed compensation, capped per
  bracket (see `fees.belgian_b2c`). No interest is booked: moratory interest needs a
  contract clause (and may not exceed the commercial rate), which the portal cannot see.
- ``nl_b2b``: a Dutch business. The WIK scale applies unless the contract says otherwise,
  but at least EUR 40 per invoice (art. 6:96 lid 4 BW, Late Payment Directive 2011/7/EU
  art. 6); no 14-day letter is needed. Commercial interest (art. 6:119a BW) runs from
  the day after the due date, and each year's interest joins the principal as under
  art. 6:119 lid 2 BW.
- ``be_b2b``: a Belgian business. Law of 2 August 2002 on late payment in commercial
  transactions: interest at the half-yearly rate from the day after the due date without
  notice (art. 5), as simple interest (capitalising it needs a court claim or an
  agreement, art. 1154 of the old Civil Code), and a fixed EUR 40 per invoice (art. 6).

A consumer follows the law of the country they live in (Rome I art. 6); a business the
law of the creditor, the brand (Rome I art. 4). Other countries follow the brand's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from portal.domain.dunning.fees import belgian_b2b, belgian_b2c, wik, wik_b2b

REGIMES = ("nl_b2c", "be_b2c", "nl_b2b", "be_b2b")
CALENDARS = ("NL", "BE")

POSTAL_DAYS = 3  # a posted letter counts as received on the third business day
TERM_DAYS = 14  # the period after receipt
DEFAULT_TZ = "Europe/Amsterdam"


# ------------------------------------------------------------------------- who
def regime(debtor_kind: str, debtor_country: str, brand_country: str) -> str:
    """The rules a debtor falls under: 'nl_b2c', 'be_b2c', 'nl_b2b' or 'be_b2b'."""
    if debtor_kind == "b2b":
        return "be_b2b" if brand_country == "BE" else "nl_b2b"
    home = debtor_country if debtor_country in CALENDARS else brand_country
    return "be_b2c" if home == "BE" else "nl_b2c"


def regime_of(debtor: object) -> str:
    """`regime` for a Debtor row (with its brand loaded)."""
    brand = debtor.brand  # type: ignore[attr-defined]
    return regime(debtor.kind, debtor.country, brand.country)  # type: ignore[attr-defined]


def calendar_of(debtor_country: str, brand_country: str) -> str:
    """Whose public holidays count: the debtor's country (NL or BE), else the brand's."""
    if debtor_country in CALENDARS:
        return debtor_country
    return brand_country if brand_country in CALENDARS else "NL"


# ---------------------------------------------------------------- business days
@lru_cache(maxsize=8)
def _holidays(country: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=range(2015, 2046))


def is_business_day(day: dt.date, country: str = "NL") -> bool:
    """Monday to Friday and not a public holiday of `country` (the `holidays` package)."""
    return day.weekday() < 5 and day not in _holidays(country)


def add_business_days(day: dt.date, days: int, country: str = "NL") -> dt.date:
    """`days` business days after `day` in `country`."""
    while days > 0:
        day += dt.timedelta(days=1)
        if is_business_day(day, country):
            days -= 1
    return day


def holiday_calendars(day: dt.date) -> set[str]:
    """The calendars (NL, BE) for which `day` is a public holiday (weekends aside)."""
    return {c for c in CALENDARS if day in _holidays(c)}


# ------------------------------------------------------------------ delivery
DELIVERED = "sent"  # the SMTP server accepted the mail, the SMS provider the text, or printed
# without SMTP_URL (development and the demo; production refuses to start so) the local
# outbox is the mail server: mail kept there counts as delivered when it was kept
KEPT_LOCALLY = "local"
UNDELIVERED = ("failed",)  # bounced or refused: such a message never starts a period
WAITING = ("pending", "sending")  # not yet sent (or printed): the period has not started


def delivered_on(sent_at: dt.datetime | None, timezone: str = DEFAULT_TZ) -> dt.date | None:
    """The business date on which a message was delivered (None: not delivered)."""
    if sent_at is None:
        return None
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=dt.UTC)
    return sent_at.astimezone(ZoneInfo(timezone)).date()


def received_on(channel: str, sent_on: dt.date, calendar: str = "NL") -> dt.date:
    """When the debtor is taken to have received it.

    A letter: the third business day after printing (DESIGN.md section 9; BE: art.
    XIX.2). An email or SMS: the business day after delivery, which is the later of the
    Dutch rule (14 days from the day after receipt, counted safely as 15 from sending) and
    the Belgian one (14 days from the business day after an electronic reminder)."""
    if channel == "letter":
        return add_business_days(sent_on, POSTAL_DAYS, calendar)
    return add_business_days(sent_on, 1, calendar)


def deadline(channel: str, sent_on: dt.date, calendar: str = "NL") -> dt.date:
    """The last day to pay that a message sent (or printed) on `sent_on` states."""
    return received_on(channel, sent_on, calendar) + dt.timedelta(days=TERM_DAYS)


@dataclass(frozen=True)
class Sent:
    """One message of a claim as the outbox recorded it."""

    channel: str
    status: str
    sent_on: dt.date | None  # delivery day (business timezone), None when not delivered


@dataclass(frozen=True)
class Period:
    """Where the periods a debtor was told stand: `last_day` is the latest stated
    deadline of the delivered messages; `waiting` when one is still to be sent or
    printed (its later date wins); `undelivered` when none arrived and none waits."""

    last_day: dt.date | None
    waiting: bool
    undelivered: bool

    def passed(self, day: dt.date) -> bool:
        """Whether every deadline the debtor was told lies before `day`."""
        return not self.waiting and self.last_day is not None and self.last_day < day


def period(messages: Iterable[Sent], calendar: str = "NL") -> Period:
    """The period of a claim's messages (all channels of its step, and resends)."""
    last: dt.date | None = None
    waiting = False
    for message in messages:
        if message.status in WAITING:
            waiting = True
        elif message.status in (DELIVERED, KEPT_LOCALLY) and message.sent_on is not None:
            day = deadline(message.channel, message.sent_on, calendar)
            last = day if last is None or day > last else last
    return Period(last, waiting, undelivered=last is None and not waiting)


# --------------------------------------------------------------------- costs
def announces_costs(regime_name: str, step_kind: str, fee_rule: str) -> bool:
    """Whether a step with this kind and cost rule announces costs to this debtor.

    The step's cost rule says the schedule wants costs; the law decides which: a Dutch
    consumer only on a 14-day letter, everyone else on a notice or a 14-day letter (a
    Belgian consumer's free first reminder comes before it)."""
    if fee_rule == "none" or step_kind not in ("notice", "fourteen_day"):
        return False
    if regime_name == "nl_b2c":
        return step_kind == "fourteen_day"
    return True


def costs(regime_name: str, principal_cents: int, invoices: int = 1) -> int:
    """The collection costs over the combined principal of `invoices` invoices."""
    if principal_cents <= 0 or invoices <= 0:
        return 0
    if regime_name == "nl_b2c":
        return wik(principal_cents)
    if regime_name == "be_b2c":
        return belgian_b2c(principal_cents)
    if regime_name == "nl_b2b":
        return wik_b2b(principal_cents, invoices)
    return belgian_b2b(invoices)


def first_reminder_notice(regime_name: str, step_kind: str) -> bool:
    """Whether this step is a Belgian consumer's free first reminder, which must state
    the due date, the amount and the compensation that follows after 14 days."""
    return regime_name == "be_b2c" and step_kind == "reminder"


# ---------------------------------------------------------------------- calls
CALL_KIND = "call"
MARKING_KINDS = ("collection",)  # a step that only marks the invoice


def sends_message(step_kind: str) -> bool:
    """Whether a step writes a message to the debtor. A call is made by a person from the
    work queue: it states no deadline, announces no costs (`announces_costs` is False for
    it), starts no period and does not count as the reminder a 14-day letter needs."""
    return step_kind not in (CALL_KIND, *MARKING_KINDS)


def call_on(day: dt.date, calendar: str = "NL") -> dt.date:
    """The day a call step's task is due: `day`, or the next business day after a weekend
    or a public holiday where the debtor lives (nobody phones a customer on Sunday)."""
    while not is_business_day(day, calendar):
        day += dt.timedelta(days=1)
    return day


# ------------------------------------------------------------------ interest
@dataclass(frozen=True)
class InterestRule:
    """Which table, and whether unpaid interest joins the principal after each year."""

    table: str  # interest_rate.kind: consumer, commercial, be_commercial
    compounds: bool


INTEREST: dict[str, InterestRule | None] = {
    "nl_b2c": InterestRule("consumer", compounds=True),  # art. 6:119 lid 2 BW
    "nl_b2b": InterestRule("commercial", compounds=True),  # art. 6:119a BW
    "be_b2b": InterestRule("be_commercial", compounds=False),  # law of 2 Aug 2002, art. 5
    "be_b2c": None,  # only by contract: not booked
}
RATE_KINDS = ("consumer", "commercial", "be_commercial")


def interest_rule(regime_name: str) -> InterestRule | None:
    """The interest a regime books, or None."""
    return INTEREST.get(regime_name)


def interest_starts(due_date: dt.date) -> dt.date:
    """Interest runs from the day after the due date (verzuim at a fixed due date, art.
    6:83 sub a BW; art. 6:119a lid 2 BW; BE law of 2 Aug 2002 art. 5)."""
    return due_date + dt.timedelta(days=1)


TOPUP_DAYS = 30  # interest booked so far is topped up once it is this many days old
