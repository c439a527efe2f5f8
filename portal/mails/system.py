"""The mails that carry a credential: the debtor's magic link (in the first debtor's brand),
the admin's password reset and the confirmation of a debtor's new email address.

They are queued with only a token id (`render_data`); `CredentialMails` issues the token
and writes the mail at each send attempt, and hands the bodies to the worker without
storing them (`outbox.Written`). So no state of the outbox row (pending, sending, failed,
sent) holds a usable link, admin never shows one, a retry sends a fresh link, and the
token's minutes run from the moment it is sent.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from portal.config import Settings
from portal.domain import admins, login
from portal.domain import requests as req
from portal.domain.messaging.outbox import Written, queue_email
from portal.mails.compose import (
    Composer,
    render_message,
    sender_for,
)
from portal.mails.values import email_confirm_values
from portal.models import (
    AdminResetToken,
    AdminUser,
    Brand,
    DebtorRequest,
    EmailChangeToken,
    LoginToken,
    OutboxMessage,
)


def queue_login_mail(session: Session, request: login.LinkRequest, settings: Settings) -> None:
    """Queue the magic-link mail, branded as the first debtor's brand; written when sent."""
    first = request.debtors[0]
    queue_email(
        session,
        kind="login_link",
        recipient=request.email,
        subject="",
        body_text="",
        sender=sender_for(first.brand, settings),
        debtor_id=first.id if len(request.debtors) == 1 else None,
        brand_id=first.brand_id,
        render_key="login_link",
        render_data={"token_id": request.token_id},
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
    session: Session, user: AdminUser, token: AdminResetToken, settings: Settings
) -> None:
    """Queue the admin's password-reset mail (not a brand's mail: a file); written when
    sent."""
    queue_email(
        session,
        kind="admin_reset",
        recipient=user.email,
        subject="",
        body_text="",
        sender=settings.mail_from,
        render_key="admin_reset",
        render_data={"token_id": token.id},
    )


def queue_email_confirm_mail(
    session: Session, request: DebtorRequest, token: EmailChangeToken, settings: Settings
) -> None:
    """Queue the confirmation of a new address, to that address; written when sent."""
    debtor = request.debtor
    queue_email(
        session,
        kind="email_confirm",
        recipient=token.email,
        subject="",
        body_text="",
        sender=sender_for(debtor.brand, settings),
        debtor_id=debtor.id,
        brand_id=debtor.brand_id,
        render_key="email_confirm",
        render_data={"token_id": token.id},
    )


class CredentialMails:
    """Writes a queued credential mail at send time (one call per attempt).

    Returns the bodies to send, or False when there is nothing to send any more (the
    token was used, the address opens no account, the request was closed). Only the
    subject is kept on the row, with the link cut out should a brand's text show it there.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, session: Session, message: OutboxMessage) -> Written | bool:
        """Issue the token and write the mail with its link."""
        token_id = int((message.render_data or {}).get("token_id") or 0)
        writer = {
            "login_link": self._login,
            "admin_reset": self._admin_reset,
            "email_confirm": self._email_confirm,
        }.get(message.render_key or "")
        if writer is None:
            raise ValueError(f"no credential mail {message.render_key!r}")
        written = writer(session, token_id)
        if written is None:
            return False
        mail, raw = written
        message.subject = mail.subject.replace(raw, "…")[:250]
        return mail

    def _login(self, session: Session, token_id: int) -> tuple[Written, str] | None:
        token = session.get(LoginToken, token_id)
        if token is None:
            return None
        debtors = login.debtors_for_email(session, token.email)
        if not debtors:  # the address was taken off every account meanwhile
            return None
        minutes = self.settings.login_token_minutes
        raw = login.issue(session, token.id, minutes=minutes)
        if raw is None:
            return None
        first = debtors[0]
        link = login.link_for(self.settings.base_url, raw)
        composer = login_composer(first.brand, first.language, self.settings, link, minutes)
        composer.values["several_accounts"] = len(debtors) > 1
        return Written(*render_message(session, composer, "login_link")), raw

    def _admin_reset(self, session: Session, token_id: int) -> tuple[Written, str] | None:
        issued = admins.issue_reset(session, token_id)
        if issued is None:
            return None
        user, raw = issued
        link = f"{self.settings.base_url}/admin/password/reset/{raw}"
        context = {"link": link, "user": user, "minutes": admins.RESET_MINUTES}
        subject = render_template("email/admin_reset.subject.txt", **context).strip()
        return Written(subject, render_template("email/admin_reset.txt", **context), ""), raw

    def _email_confirm(self, session: Session, token_id: int) -> tuple[Written, str] | None:
        issued = req.issue_email_token(session, token_id)
        if issued is None:
            return None
        token, raw = issued
        debtor = session.get_one(DebtorRequest, token.request_id).debtor
        composer = Composer.start(
            debtor.brand, debtor.language, f"{self.settings.base_url}/overview"
        ).debtor(debtor)
        link = f"{self.settings.base_url}/contact/confirm/{raw}"
        composer = email_confirm_values(composer, link, token.email)
        return Written(*render_message(session, composer, "email_confirm")), raw
