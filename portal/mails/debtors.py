"""Mails about a debtor's own business, written to the outbox in their language: receipts,
second chances, request updates and email confirmation, plan updates, instalment
reminders and the breach notice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from portal.config import Settings
from portal.domain.messaging.outbox import queue_email
from portal.domain.payments import paylinks
from portal.domain.plans import progress
from portal.mails.compose import (
    Composer,
    pay_link_url,
    render_message,
    sender_for,
)
from portal.mails.system import queue_email_confirm_mail
from portal.mails.values import (
    instalment_pay,
    instalment_row,
    instalment_values,
    plan_values,
    receipt_values,
    request_values,
)
from portal.models import (
    Debtor,
    DebtorRequest,
    EmailChangeToken,
    Instalment,
    InstalmentPlan,
    Invoice,
    OutboxMessage,
    PayLink,
    Payment,
    utcnow,
)


class PaymentMails:
    """Receipt and second-chance mails, written to the outbox in the debtor's language."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def composer(self, debtor: Debtor) -> Composer:
        """A composer in the debtor's brand and language, with the debtor filled in."""
        portal = f"{self.settings.base_url}/overview"
        return Composer.start(debtor.brand, debtor.language, portal).debtor(debtor)

    def paid(self, session: Session, payment: Payment) -> None:
        """The receipt, once per payment (the outbox key guards it)."""
        debtor = payment.debtor
        if not debtor.primary_email:
            return
        paid_on = (
            (payment.paid_at or utcnow()).astimezone(ZoneInfo(self.settings.portal_timezone)).date()
        )
        composer = receipt_values(self.composer(debtor), payment, paid_on)
        self._queue(session, "receipt", debtor, composer, f"receipt:{payment.id}")

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
        composer = self.composer(debtor).open_invoices(invoices, pay_link_url(link, self.settings))
        composer.values["days"] = (link.expires_at - link.created_at).days
        if link.instalment is not None:  # the link asks the instalment, so the mail does too
            instalment_row(composer, link.instalment)
        self._queue(session, "second_chance", debtor, composer, dedupe_key)
        return True

    def _queue(
        self,
        session: Session,
        key: str,
        debtor: Debtor,
        composer: Composer,
        dedupe_key: str,
        kind: str = "",
    ) -> OutboxMessage:
        subject, text, html = render_message(session, composer, key)
        return queue_email(
            session,
            kind=kind or key,
            recipient=debtor.primary_email,
            subject=subject,
            body_text=text,
            body_html=html,
            sender=sender_for(debtor.brand, self.settings),
            debtor_id=debtor.id,
            brand_id=debtor.brand_id,
            dedupe_key=dedupe_key,
        )


class RequestMails(PaymentMails):
    """Mails about a debtor's requests: an answer or a change of state, and the link that
    confirms a new email address (sent to that address)."""

    def update(self, session: Session, request: DebtorRequest, text: str) -> None:
        """Tell the debtor where the request stands now, with the admin's answer."""
        debtor = request.debtor
        if not debtor.primary_email:
            return
        composer = request_values(self.composer(debtor), request, text, self.settings)
        self._queue(
            session,
            "request_update",
            debtor,
            composer,
            f"request:{request.id}:{len(request.events)}",
        )

    def email_confirm(
        self, session: Session, request: DebtorRequest, token: EmailChangeToken
    ) -> None:
        """The single-use link to the new address (made when the mail is sent); the change
        waits for it."""
        queue_email_confirm_mail(session, request, token, self.settings)

    def email_changed(self, session: Session, debtor: Debtor, addresses: Sequence[str]) -> None:
        """Tell each address the account had before that its addresses were changed (in
        the portal or by an admin), so a change the owner did not make does not go
        unnoticed."""
        composer = self.composer(debtor)
        subject, text, html = render_message(session, composer, "email_changed")
        for address in dict.fromkeys(addresses):
            queue_email(
                session,
                kind="email_changed",
                recipient=address,
                subject=subject,
                body_text=text,
                body_html=html,
                sender=sender_for(debtor.brand, self.settings),
                debtor_id=debtor.id,
                brand_id=debtor.brand_id,
            )


class PlanMails(PaymentMails):
    """Mails about a debtor's payment plans."""

    def update(self, session: Session, plan: InstalmentPlan, note: str) -> None:
        """Tell the debtor where the plan stands now (proposed, cancelled ...), with its
        schedule and the admin's note; once per plan and status."""
        debtor = plan.debtor
        if not debtor.primary_email:
            return
        composer = plan_values(self.composer(debtor), plan, note, self.settings)
        self._queue(session, "plan_update", debtor, composer, f"plan:{plan.id}:{plan.status}")


class InstalmentMails(PaymentMails):
    """The mails of a running plan: an instalment due soon or late, and the breach."""

    def plan_link(self, plan: InstalmentPlan) -> str:
        return f"{self.settings.base_url}/plans/{plan.id}"

    def _link(
        self,
        session: Session,
        plan: InstalmentPlan,
        purpose: str,
        instalment: Instalment | None = None,
    ) -> tuple[list[Invoice], str] | None:
        """The plan's open invoices and a new pay-link for them (for just `instalment`, when
        given), or None when the debtor has no address or nothing is open."""
        invoices = progress.open_invoices(plan)
        if not plan.debtor.primary_email or not invoices:
            return None
        link = paylinks.create(
            session,
            plan.debtor,
            invoices,
            actor="system",
            purpose=purpose,
            days=self.settings.pay_link_days,
            instalment=instalment,
        )
        return invoices, pay_link_url(link, self.settings)

    def instalment_due(
        self,
        session: Session,
        plan: InstalmentPlan,
        instalment: Instalment,
        day: dt.date,
        dedupe_key: str,
    ) -> bool:
        """The reminder of an instalment with a pay-link for just that instalment."""
        made = self._link(session, plan, "instalment", instalment)
        if made is None:
            return False
        composer = instalment_values(
            self.composer(plan.debtor), plan, instalment, self.plan_link(plan), day
        )
        instalment_pay(composer, made[1], instalment.seq)
        self._queue(session, "instalment_due", plan.debtor, composer, dedupe_key)
        return True

    def breached(
        self,
        session: Session,
        plan: InstalmentPlan,
        missed: Instalment,
        day: dt.date,
        dedupe_key: str,
    ) -> bool:
        """The notice that the plan ended, with the open invoices and a pay-link."""
        made = self._link(session, plan, "plan_breached")
        if made is None:
            return False
        composer = self.composer(plan.debtor).open_invoices(*made)
        instalment_values(composer, plan, missed, self.plan_link(plan), day)
        self._queue(session, "plan_breached", plan.debtor, composer, dedupe_key)
        return True
