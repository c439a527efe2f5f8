"""The sign-in mails: the debtor's magic link (in the first debtor's brand) and the admin's
password reset."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from portal.config import Settings
from portal.domain.login import LinkMail
from portal.domain.messaging.outbox import queue_email
from portal.mails.compose import (
    Composer,
    render_message,
    sender_for,
)
from portal.models import (
    AdminUser,
    Brand,
)


def queue_login_mail(session: Session, mail: LinkMail, settings: Settings, minutes: int) -> None:
    """Write the magic-link mail to the outbox, branded as the first debtor's brand."""
    first = mail.debtors[0]
    composer = login_composer(first.brand, first.language, settings, mail.link, minutes)
    composer.values["several_accounts"] = len(mail.debtors) > 1
    subject, text, html = render_message(session, composer, "login_link")
    queue_email(
        session,
        kind="login_link",
        recipient=mail.email,
        subject=subject,
        body_text=text,
        body_html=html,
        sender=sender_for(first.brand, settings),
        debtor_id=first.id if len(mail.debtors) == 1 else None,
        brand_id=first.brand_id,
    )


def login_composer(
    brand: Brand, language: str, settings: Settings, link: str, minutes: int
) -> Composer:
    """The variables of a sign-in mail."""
    composer = Composer.start(brand, language, f"{settings.base_url}/overview")
    composer.values.update(login_link=link, minutes=minutes, several_accounts=False)
    with force_locale(language):
        label = gettext("Open my invoices")
    return composer.button("login_button", link, label)


def queue_admin_reset_mail(
    session: Session, user: AdminUser, link: str, settings: Settings
) -> None:
    """Write the admin's password-reset mail to the outbox (not a brand's mail: a file)."""
    context = {"link": link, "user": user, "minutes": 30}
    queue_email(
        session,
        kind="admin_reset",
        recipient=user.email,
        subject=render_template("email/admin_reset.subject.txt", **context).strip(),
        body_text=render_template("email/admin_reset.txt", **context),
        sender=settings.mail_from,
    )
