"""System mails rendered from templates/email/ in the debtor's language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session

from portal.config import Settings
from portal.domain.login import LinkMail
from portal.domain.messaging.outbox import queue_email
from portal.domain.payments import paylinks
from portal.models import (
    AdminUser,
    Brand,
    Debtor,
    Invoice,
    OutboxMessage,
    PayLink,
    Payment,
    ReminderStep,
    utcnow,
)


def sender_for(brand: Brand | None, settings: Settings) -> str:
    """The From header: the brand's sender when it has one, else MAIL_FROM."""
    if brand and brand.sender_email:
        return f"{brand.sender_name or brand.name} <{brand.sender_email}>"
    return settings.mail_from


def render_mail(kind: str, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, text and HTML of `templates/email/<kind>.*` in `language`."""
    with force_locale(language):
        subject = render_template(f"email/{kind}.subject.txt", **context).strip()
        text = render_template(f"email/{kind}.txt", **context)
        html = render_template(f"email/{kind}.html", **context)
    return subject, text, html


def queue_login_mail(session: Session, mail: LinkMail, settings: Settings, minutes: int) -> None:
    """Write the magic-link mail to the outbox, branded as the first debtor's brand."""
    first = mail.debtors[0]
    brand = first.brand
    context = {
        "link": mail.link,
        "debtors": mail.debtors,
        "brand": brand,
        "minutes": minutes,
        "base_url": settings.base_url,
    }
    subject, text, html = render_mail("login_link", first.language, context)
    queue_email(
        session,
        kind="login_link",
        recipient=mail.email,
        subject=subject,
        body_text=text,
        body_html=html,
        sender=sender_for(brand, settings),
        debtor_id=first.id if len(mail.debtors) == 1 else None,
        brand_id=brand.id,
    )


def queue_admin_reset_mail(
    session: Session, user: AdminUser, link: str, settings: Settings
) -> None:
    """Write the admin's password-reset mail to the outbox."""
    context = {"link": link, "user": user, "minutes": 30}
    queue_email(
        session,
        kind="admin_reset",
        recipient=user.email,
        subject=render_template("email/admin_reset.subject.txt", **context).strip(),
        body_text=render_template("email/admin_reset.txt", **context),
        sender=settings.mail_from,
    )


def pay_link_url(link: PayLink, settings: Settings) -> str:
    """The public URL of a pay-link."""
    return f"{settings.base_url}/p/{paylinks.token(link, settings.secret_key)}"


@dataclass(frozen=True)
class _Row:
    number: str
    amount_cents: int
    currency: str


class PaymentMails:
    """Receipt and second-chance mails, written to the outbox in the debtor's language."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def paid(self, session: Session, payment: Payment) -> None:
        """The receipt, once per payment (the outbox key guards it)."""
        debtor = payment.debtor
        if not debtor.primary_email:
            return
        rows = [
            _Row(a.invoice.number, a.amount_cents, payment.currency) for a in payment.allocations
        ]
        context = {
            "payment": payment,
            "debtor": debtor,
            "brand": debtor.brand,
            "rows": rows,
            "paid_on": (payment.paid_at or utcnow())
            .astimezone(ZoneInfo(self.settings.portal_timezone))
            .date(),
            "portal_url": f"{self.settings.base_url}/overview",
        }
        self._queue(session, "receipt", debtor, context, f"receipt:{payment.id}")

    def _open_invoices(
        self, debtor: Debtor, invoices: Sequence[Invoice], link: PayLink
    ) -> dict[str, Any]:
        """What every mail about open invoices shows: the rows, the total, the pay-link."""
        return {
            "debtor": debtor,
            "brand": debtor.brand,
            "invoices": invoices,
            "rows": [_Row(i.number, i.open_cents, i.currency) for i in invoices],
            "total_cents": sum(i.open_cents for i in invoices),
            "currency": invoices[0].currency,
            "link": pay_link_url(link, self.settings),
        }

    def second_chance(
        self,
        session: Session,
        debtor: Debtor,
        invoices: Sequence[Invoice],
        link: PayLink,
        dedupe_key: str,
    ) -> bool:
        """The fresh pay-link after a failed payment."""
        if not debtor.primary_email:
            return False
        context = {
            **self._open_invoices(debtor, invoices, link),
            "days": (link.expires_at - link.created_at).days,
        }
        self._queue(session, "second_chance", debtor, context, dedupe_key)
        return True

    def _queue(
        self, session: Session, kind: str, debtor: Debtor, context: dict[str, Any], key: str
    ) -> OutboxMessage:
        subject, text, html = render_mail(kind, debtor.language, context)
        return queue_email(
            session,
            kind=kind,
            recipient=debtor.primary_email,
            subject=subject,
            body_text=text,
            body_html=html,
            sender=sender_for(debtor.brand, self.settings),
            debtor_id=debtor.id,
            brand_id=debtor.brand_id,
            dedupe_key=key,
        )


class ReminderMails(PaymentMails):
    """Reminders of the dunning run, in the debtor's language, with a pay-link."""

    def reminder(
        self,
        session: Session,
        debtor: Debtor,
        step: ReminderStep,
        invoices: Sequence[Invoice],
        link: PayLink,
        costs_cents: int,
        deadline: dt.date,
        dedupe_key: str,
    ) -> int | None:
        """Queue one reminder for all `invoices`; None when the debtor has no address."""
        if not debtor.primary_email:
            return None
        context = {
            **self._open_invoices(debtor, invoices, link),
            "step": step,
            "costs_cents": costs_cents,
            "deadline": deadline,
        }
        message = self._queue(session, "reminder", debtor, context, dedupe_key)
        session.flush()
        return message.id

    def new_invoices(
        self,
        session: Session,
        debtor: Debtor,
        invoices: Sequence[Invoice],
        link: PayLink,
        dedupe_key: str,
    ) -> bool:
        """The new invoices of an import, with a pay-link; False without an address."""
        if not debtor.primary_email:
            return False
        context = {
            **self._open_invoices(debtor, invoices, link),
            "first_due": invoices[0].due_date,
            "portal_url": f"{self.settings.base_url}/overview",
        }
        self._queue(session, "new_invoices", debtor, context, dedupe_key)
        return True
