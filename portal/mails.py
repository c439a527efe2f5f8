"""System mails rendered from templates/email/ in the debtor's language."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session

from portal.config import Settings
from portal.domain.login import LinkMail
from portal.domain.messaging.outbox import queue_email
from portal.models import AdminUser, Brand


def sender_for(brand: Brand | None, settings: Settings) -> str:
    """The From header: the brand's sender when it has one, else MAIL_FROM."""
    if brand and brand.sender_email:
        return f"{brand.sender_name or brand.name} <{brand.sender_email}>"
    return settings.mail_from


def queue_login_mail(session: Session, mail: LinkMail, settings: Settings, minutes: int) -> None:
    """Write the magic-link mail to the outbox, branded as the first debtor's brand."""
    first = mail.debtors[0]
    brand = first.brand
    with force_locale(first.language):
        context = {
            "link": mail.link,
            "debtors": mail.debtors,
            "brand": brand,
            "minutes": minutes,
            "base_url": settings.base_url,
        }
        subject = render_template("email/login_link.subject.txt", **context).strip()
        text = render_template("email/login_link.txt", **context)
        html = render_template("email/login_link.html", **context)
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
