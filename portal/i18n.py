"""Language choice and locale-aware formatting of money and dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import get_month_names
from babel.numbers import format_currency
from flask import g, has_request_context, request, session
from flask_babel import get_locale, gettext, ngettext
from markupsafe import Markup

from portal.domain.invoices import StatusView
from portal.models import AuditEvent, Invoice

LANGUAGES = ("nl", "en", "fr")
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English", "fr": "Français"}
# Formatting locales: English dates as "23 Nov 2026", French as in Belgium.
FORMAT_LOCALE = {"nl": "nl_NL", "en": "en_GB", "fr": "fr_BE"}


def select_language() -> str:
    """The session's choice, else the debtor's language, else the browser's, else Dutch."""
    if has_request_context():
        chosen = session.get("lang")
        if chosen in LANGUAGES:
            return str(chosen)
        debtor_lang = getattr(g, "debtor_language", None)
        if debtor_lang in LANGUAGES:
            return str(debtor_lang)
        best = request.accept_languages.best_match(LANGUAGES)
        if best:
            return best
    return "nl"


def current_language() -> str:
    """The language of the current rendering ('nl', 'en' or 'fr')."""
    locale = get_locale()
    return locale.language if locale and locale.language in LANGUAGES else "nl"


@dataclass(frozen=True)
class _MoneyShape:
    """How a locale writes an amount, learnt once from Babel (CLDR) for a sample."""

    prefix: str
    suffix: str
    negative_prefix: str
    negative_suffix: str
    group: str
    decimal: str


@lru_cache(maxsize=64)
def _money_shape(currency: str, locale: str) -> _MoneyShape:
    positive = format_currency(Decimal("1234567.89"), currency, locale=locale)
    negative = format_currency(Decimal("-1234567.89"), currency, locale=locale)
    first, last = positive.index("1"), positive.rindex("9")
    group = positive[first + 1 : positive.index("2")]
    decimal = positive[positive.index("7") + 1 : positive.index("8")]
    n_first, n_last = negative.index("1"), negative.rindex("9")
    return _MoneyShape(
        positive[:first],
        positive[last + 1 :],
        negative[:n_first],
        negative[n_last + 1 :],
        group,
        decimal,
    )


def money(cents: int, currency: str = "EUR", lang: str | None = None) -> str:
    """Format integer cents as the locale writes it: '€ 1.234,56' or '€1,234.56'.

    Pages show many amounts, so the locale's pattern is learnt from Babel once per
    (currency, locale) and applied with plain string work (tests compare with Babel).
    """
    shape = _money_shape(currency, FORMAT_LOCALE[lang or current_language()])
    whole, fraction = divmod(abs(cents), 100)
    digits = f"{whole:,}".replace(",", shape.group) + f"{shape.decimal}{fraction:02d}"
    if cents < 0:
        return f"{shape.negative_prefix}{digits}{shape.negative_suffix}"
    return f"{shape.prefix}{digits}{shape.suffix}"


@lru_cache(maxsize=8)
def _month_names(locale: str) -> dict[int, str]:
    return dict(get_month_names("abbreviated", context="format", locale=locale))


def date(value: dt.date | None, lang: str | None = None) -> str:
    """Format a date as '23 nov 2026' / '23 Nov 2026' (CLDR pattern 'd MMM y')."""
    if value is None:
        return ""
    months = _month_names(FORMAT_LOCALE[lang or current_language()])
    return f"{value.day} {months[value.month]} {value.year}"


def moment(value: dt.datetime, timezone: str, lang: str | None = None) -> str:
    """A moment in the business timezone: '23 Nov 2026, 14:05 (Europe/Amsterdam)'."""
    local = value.astimezone(ZoneInfo(timezone))
    return f"{date(local.date(), lang)}, {local:%H:%M} ({timezone})"


def override_note(event: AuditEvent) -> str:
    """For admins: the rule a step sent by hand set aside, and the reason given."""
    if event.action != "admin.step_overridden":
        return ""
    details = event.details or {}
    return gettext(
        "against the schedule's rules (%(rule)s): %(reason)s",
        rule=send_rule_label(str(details.get("rule", ""))),
        reason=details.get("override", ""),
    )


def send_rule_label(rule: str) -> str:
    """A rule of the daily run that a step sent by hand would break, in words."""
    return {
        "do_not_contact": gettext("the debtor is marked do not contact"),
        "dispute": gettext("the invoice is disputed"),
        "held": gettext("reminders for this invoice are paused"),
        "no_earlier_reminder": gettext("a consumer gets no 14-day letter before a reminder"),
        "out_of_order": gettext("an earlier step of the schedule was not sent yet"),
        "too_soon": gettext("the schedule's minimum gap since the last step has not passed"),
    }.get(rule, rule)


def event_label(event: AuditEvent) -> str:
    """A timeline event in words, in the current language."""
    details = event.details or {}
    if event.action == "payment.received":
        amount = money(int(details.get("amount_cents", 0)), details.get("currency", "EUR"))
        return gettext("Payment of %(amount)s received", amount=amount)
    if event.action == "payment.started":
        amount = money(int(details.get("amount_cents", 0)), details.get("currency", "EUR"))
        return gettext("Payment of %(amount)s started", amount=amount)
    if event.action in ("payment.failed", "payment.canceled", "payment.expired"):
        return {
            "payment.failed": gettext("Payment failed"),
            "payment.canceled": gettext("Payment cancelled"),
            "payment.expired": gettext("Payment expired before it was completed"),
        }[event.action]
    if event.action in ("payment.refunded", "payment.charged_back"):
        amount = money(int(details.get("amount_cents", 0)), details.get("currency", "EUR"))
        if event.action == "payment.refunded":
            return gettext("%(amount)s refunded: the invoice is open again", amount=amount)
        return gettext("%(amount)s charged back by the bank: open again", amount=amount)
    if event.action == "paylink.created":
        return gettext("Pay-link created")
    if event.action == "paylink.revoked":
        return gettext("Pay-link revoked")
    if event.action == "payment.second_chance":
        return gettext("New pay-link sent after a failed payment")
    if event.action == "admin.step_sent":
        return gettext("Reminder step sent by hand")
    if event.action == "admin.step_overridden":  # the reason is for admins only
        return gettext("Reminder step sent by hand")
    if event.action == "payment.settled_elsewhere":
        amount = money(int(details.get("amount_cents", 0)), details.get("currency", "EUR"))
        return gettext("%(amount)s paid elsewhere settled this line first", amount=amount)
    if event.action == "payment.reference_recognised":
        return gettext("Paid by bank transfer with our payment reference")
    if event.action == "admin.letter_resent":
        return gettext("The undelivered letter was sent again by post")
    if event.action in ("dunning.costs_added", "dunning.interest_added"):
        amount = money(int(details.get("amount_cents", 0)), details.get("currency", "EUR"))
        if event.action == "dunning.costs_added":
            return gettext("Collection costs of %(amount)s booked", amount=amount)
        return gettext("Statutory interest of %(amount)s booked", amount=amount)
    if event.action == "dunning.paused":
        return gettext("Reminders paused")
    if event.action == "dunning.resumed":
        return gettext("Reminders resumed")
    if event.action == "dunning.ready_for_collection":
        return gettext("Ready for collection")
    if event.action == "admin.do_not_contact":
        return (
            gettext("Marked do not contact")
            if details.get("value")
            else gettext("Reminders allowed again")
        )
    if event.action == "reminder.sent":
        channels = details.get("channels") or [details.get("channel")]
        return gettext(
            "Reminder sent by %(channel)s", channel=", ".join(_channel(c) for c in channels)
        )
    if event.action == "letters.printed":
        return gettext("Letters printed")
    if event.action == "invoice.imported":
        return gettext("Invoice added to the portal")
    if event.action == "invoice.paid_elsewhere":
        return gettext("Marked as paid")
    if event.action == "invoice.updated":
        return gettext("Invoice updated from the accounting package")
    if event.action == "login.link_sent":
        return gettext("Sign-in link sent")
    if event.action == "login.success":
        return gettext("Signed in to the portal")
    if event.action == "login.signed_out":
        return gettext("Signed out of the portal")
    if event.action == "login.sessions_ended":
        return gettext("Every portal session ended")
    if event.action == "admin.debtor_updated":
        return gettext("Contact data changed")
    if event.action == "admin.debtor_emails_changed":
        return gettext("Email addresses changed; the old ones were told")
    if event.action == "debtor.exported":
        return gettext("Personal data exported")
    if event.action == "debtor.erased":
        return gettext("Personal data erased on request; the bookkeeping is kept")
    if event.action == "request.dispute":
        return gettext("Disputed: reminders wait for our answer")
    if event.action == "request.promise":
        until = details.get("until")
        return gettext(
            "Promised to pay by %(date)s",
            date=date(dt.date.fromisoformat(until)) if until else "",
        )
    if event.action == "request.credited":
        amount = money(int(details.get("amount_cents", 0)), details.get("currency", "EUR"))
        return gettext("Credited %(amount)s after the dispute", amount=amount)
    if event.action == "request.cancelled":
        return gettext("Cancelled after the dispute")
    if event.action == "request.upheld":
        return gettext("Dispute answered: the invoice stands")
    if event.action.startswith("plan."):
        return plan_event_label(event.action)
    if event.action.startswith("collection."):
        return collection_event_label(event.action, details)
    if event.action.startswith("task.") or event.action == "dunning.call_task":
        from portal.worklist_words import task_event_label

        return task_event_label(event.action)
    return gettext("Other event")


def collection_event_label(action: str, details: dict[str, Any]) -> str:
    """A collection event (queue, hand-over, recall, write-off) in words."""
    if action == "collection.handed_over":
        return gettext("Handed over to %(agency)s", agency=details.get("agency", ""))
    if action == "collection.written_off":
        amount = money(int(details.get("amount_cents", 0)), details.get("currency", "EUR"))
        return gettext("Written off: %(amount)s", amount=amount)
    labels = {
        "collection.queued": gettext("Waits for collection"),
        "collection.stopped": gettext("Automatic hand-over stopped"),
        "collection.resumed": gettext("Automatic hand-over resumed"),
        "collection.removed": gettext("Taken out of the collection queue"),
        "collection.recalled": gettext("Recalled from the agency"),
        "collection.returned": gettext("Returned by the agency"),
        "collection.agency_costs": gettext("Agency costs booked"),
        "collection.payment_reported": gettext("Payment reported to the agency"),
    }
    return labels.get(action, gettext("Other event"))


def plan_event_label(action: str) -> str:
    """An audit event of a payment plan, in words."""
    return {
        "plan.accepted": gettext("Payment plan agreed"),
        "plan.review_asked": gettext("Payment plan sent for review"),
        "plan.proposed": gettext("Payment plan proposed"),
        "plan.declined": gettext("Payment plan proposal declined"),
        "plan.cancelled": gettext("Payment plan cancelled"),
    }.get(action, gettext("Other event"))


def request_kind_label(kind: str) -> str:
    """What a request is, in words."""
    return {
        "dispute": gettext("Dispute"),
        "promise": gettext("Promise to pay"),
        "question": gettext("Question"),
        "contact_change": gettext("Contact details"),
        "plan": gettext("Payment plan"),
    }.get(kind, kind)


def request_state_label(state: str) -> str:
    """Where a request stands, in words."""
    return {
        "open": gettext("Received"),
        "answered": gettext("Answered"),
        "resolved": gettext("Resolved"),
        "rejected": gettext("Closed, not granted"),
    }.get(state, state)


def request_badge(state: str) -> Markup:
    """A request's state in words and colour together."""
    css = {"resolved": "badge-paid", "rejected": "badge-muted", "answered": "badge-partly"}
    return Markup('<span class="badge {}">{}</span>').format(
        css.get(state, "badge-open"), request_state_label(state)
    )


def plan_status_label(status: str) -> str:
    """Where a payment plan stands, in words."""
    return {
        "proposed": gettext("Proposed, waiting for agreement"),
        "active": gettext("Running"),
        "completed": gettext("Paid in full"),
        "breached": gettext("Ended: an instalment was missed"),
        "cancelled": gettext("Cancelled"),
    }.get(status, status)


def plan_badge(status: str) -> Markup:
    """A plan's status in words and colour together."""
    css = {
        "active": "badge-partly",
        "completed": "badge-paid",
        "breached": "badge-overdue",
        "cancelled": "badge-muted",
    }
    return Markup('<span class="badge {}">{}</span>').format(
        css.get(status, "badge-open"), plan_status_label(status)
    )


def dispute_reason_label(reason: str) -> str:
    """Why a debtor disputes an invoice, in words."""
    return {
        "amount_wrong": gettext("The amount is wrong"),
        "not_received": gettext("I did not receive the goods or service"),
        "already_paid": gettext("I already paid"),
        "quality": gettext("Something was wrong with the goods or service"),
        "other": gettext("Something else"),
    }.get(reason, reason)


def _channel(channel: str | None) -> str:
    return {"sms": gettext("text message"), "letter": gettext("letter")}.get(
        channel or "", gettext("email")
    )


_BADGE_CLASS = {
    "overdue": "badge-overdue",
    "paid": "badge-paid",
    "credit": "badge-paid",
    "partly_paid": "badge-partly",
    "in_plan": "badge-partly",
    "open": "badge-open",
    "cancelled": "badge-muted",
    "handed_over": "badge-muted",
    "disputed": "badge-partly",
}


def invoice_label(invoice: Invoice) -> str:
    """How a line is named: its number, or what a cost or interest line is."""
    if invoice.kind == "costs":
        return gettext("Collection costs")
    if invoice.kind == "interest":
        return gettext("Statutory interest")
    return invoice.number


def invoice_note(invoice: Invoice) -> str:
    """The small print under a line: its description, or what a charge is for."""
    if invoice.kind in ("costs", "interest"):
        letter = dt.date.fromisoformat(invoice.description) if invoice.description else None
        return gettext(
            "after the letter of %(date)s about %(numbers)s",
            date=date(letter),
            numbers=invoice.reference,
        )
    return invoice.description


def status_badge(view: StatusView) -> Markup:
    """An invoice status in words and colour together (never colour alone)."""
    if view.key == "overdue":
        text = ngettext("Overdue %(num)d day", "Overdue %(num)d days", view.days_overdue)
    else:
        text = _status_word(view.key)
    css = _BADGE_CLASS.get(view.key, "badge-open")
    return Markup('<span class="badge {}">{}</span>').format(css, text)


def _status_word(key: str) -> str:
    if key == "paid":
        return gettext("Paid")
    if key == "partly_paid":
        return gettext("Partly paid")
    if key == "credit":
        return gettext("Credit note")
    if key == "cancelled":
        return gettext("Cancelled")
    if key == "handed_over":
        return gettext("Handed over")
    if key == "disputed":
        return gettext("Disputed")
    if key == "in_plan":
        return gettext("In plan")
    return gettext("Open")


def method_name(method: str) -> str:
    """A payment method as people know it (brand names are not translated)."""
    names = {
        "ideal": "iDEAL",
        "bancontact": "Bancontact",
        "paypal": "PayPal",
        "creditcard": gettext("Card"),
        "card": gettext("Card"),
        "banktransfer": gettext("Bank transfer"),
    }
    return names.get(method, method.replace("_", " "))


class _Translatable(Protocol):
    def translated(self, gettext: Callable[[str], str]) -> str: ...


def message_text(message: _Translatable) -> str:
    """An importer message (template + values) in the current language."""
    return message.translated(gettext)


def _step_words(kind: str) -> str:
    return {
        "nudge": gettext("a friendly note"),
        "reminder": gettext("a reminder"),
        "notice": gettext("a formal notice"),
        "fourteen_day": gettext("the 14-day letter"),
        "collection": gettext("handing over to a collection agency"),
    }.get(kind, gettext("a reminder"))


def whats_next_note(n: object) -> str:
    """An invoice row's situation in words: its hold, or the last and next reminder."""
    from portal.domain.whats_next import Next

    if not isinstance(n, Next):
        return ""
    if n.hold == "plan":
        return gettext("Paid through your payment plan; no reminders.")
    if n.hold == "dispute":
        return gettext("Reminders wait until we have answered your dispute.")
    if n.hold == "promise" and n.hold_until:
        return gettext(
            "You promised to pay by %(date)s; no reminders until then.", date=date(n.hold_until)
        )
    if n.hold:
        return gettext("Reminders are paused.")
    parts = []
    if n.last_sent:
        parts.append(
            gettext(
                "Last: %(step)s on %(date)s.", step=_step_words(n.last_kind), date=date(n.last_sent)
            )
        )
    if n.next_on:
        parts.append(
            gettext(
                "Next: %(step)s around %(date)s.",
                step=_step_words(n.next_kind),
                date=date(n.next_on),
            )
        )
    return " ".join(parts)


_PAYMENT_BADGE = {
    "paid": "badge-paid",
    "refunded": "badge-muted",
    "charged_back": "badge-overdue",
    "failed": "badge-overdue",
    "canceled": "badge-muted",
    "expired": "badge-muted",
}


def payment_badge(status: str) -> Markup:
    """A payment's state for the debtor, in words and colour together."""
    words = {
        "paid": gettext("Paid"),
        "refunded": gettext("Refunded"),
        "charged_back": gettext("Charged back"),
        "failed": gettext("Failed"),
        "canceled": gettext("Cancelled"),
        "expired": gettext("Expired"),
    }
    text = words.get(status, gettext("Waiting for confirmation"))
    css = _PAYMENT_BADGE.get(status, "badge-open")
    return Markup('<span class="badge {}">{}</span>').format(css, text)


_METHOD_LOGOS = {
    "paypal": ("paypal.svg",),
    "creditcard": ("visa.svg", "mastercard.svg"),
    "card": ("visa.svg", "mastercard.svg"),
}


def method_logos(method: str) -> tuple[str, ...]:
    """The vendored logo files shown beside a method's name (static/vendor/payment-icons)."""
    return _METHOD_LOGOS.get(method, ())
