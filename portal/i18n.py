"""Language choice and locale-aware formatting of money and dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency
from flask import g, has_request_context, request, session
from flask_babel import get_locale, gettext

from portal.models import AuditEvent

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


def money(cents: int, currency: str = "EUR", lang: str | None = None) -> str:
    """Format integer cents as the locale writes it: '€ 1.234,56' or '€1,234.56'."""
    locale = FORMAT_LOCALE[lang or current_language()]
    return format_currency(Decimal(cents).scaleb(-2), currency, locale=locale)


def date(value: dt.date | None, lang: str | None = None) -> str:
    """Format a date as '23 nov. 2026' / '23 Nov 2026'."""
    if value is None:
        return ""
    return format_date(value, "d MMM y", locale=FORMAT_LOCALE[lang or current_language()])


def event_label(event: AuditEvent) -> str:
    """A timeline event in words, in the current language."""
    details = event.details or {}
    if event.action == "payment.received":
        amount = money(int(details.get("amount_cents", 0)), details.get("currency", "EUR"))
        return gettext("Payment of %(amount)s received", amount=amount)
    if event.action == "reminder.sent":
        return gettext("Reminder sent by %(channel)s", channel=_channel(details.get("channel")))
    if event.action == "invoice.imported":
        return gettext("Invoice added to the portal")
    if event.action == "invoice.paid_elsewhere":
        return gettext("Marked as paid")
    return event.action


def _channel(channel: str | None) -> str:
    return {"sms": gettext("text message"), "letter": gettext("letter")}.get(
        channel or "", gettext("email")
    )
