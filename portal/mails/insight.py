"""The weekly insight summary to admins who asked for it, in each admin's language."""

from __future__ import annotations

import datetime as dt

from babel.numbers import format_decimal
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import i18n
from portal.config import Settings
from portal.domain.insight import summary as weekly
from portal.domain.messaging.outbox import queue_email
from portal.models import AdminUser, OutboxMessage


def render_summary(figures: weekly.Summary, user: AdminUser, settings: Settings) -> tuple[str, str]:
    """(subject, text) of the summary in the admin's language."""
    language = user.language if user.language in i18n.LANGUAGES else "nl"

    def money(cents: int) -> str:
        return i18n.money(cents, "EUR", language)

    def change(cents: int) -> str:
        return ("+" if cents > 0 else "") + money(cents) if cents else "±0"

    def number(value: float) -> str:
        return format_decimal(value, format="#,##0.0", locale=i18n.FORMAT_LOCALE[language])

    context = {
        "number": number,
        "s": figures,
        "user": user,
        "money": money,
        "change": change,
        "date": lambda day: i18n.date(day, language),
        "link": f"{settings.base_url}/admin/insight",
    }
    with force_locale(language):
        subject = render_template("email/insight_weekly.subject.txt", **context).strip()
        text = render_template("email/insight_weekly.txt", **context)
    return subject, text


def queue_weekly_summaries(session: Session, day: dt.date, settings: Settings) -> int:
    """Write this week's summary to the outbox for every admin who asked for it (once a
    week each: a repeated run finds the mail already there)."""
    users = weekly.recipients(session)
    figures = weekly.build(session, day) if users else None
    if figures is None:
        return 0
    year, week, _weekday = day.isocalendar()
    queued = 0
    for user in users:
        key = f"insight-weekly:{user.id}:{year}-W{week:02d}"
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
            continue
        subject, text = render_summary(figures, user, settings)
        queue_email(
            session,
            kind="insight_weekly",
            recipient=user.email,
            subject=subject,
            body_text=text,
            sender=settings.mail_from,
            dedupe_key=key,
        )
        queued += 1
    return queued
