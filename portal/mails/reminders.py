"""Reminders of the dunning run and the mails written just before they are sent (render
when sent), and letters for print batches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import segno
from flask import render_template
from flask_babel import force_locale, gettext
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from portal.config import Settings
from portal.db import db
from portal.domain import documents
from portal.domain.brands import safe_color
from portal.domain.clock import today
from portal.domain.dunning import engine, terms
from portal.domain.messaging import letters, sms, templates
from portal.domain.messaging.outbox import CREDENTIAL_KINDS, LOGO_CID, Written, queue_email
from portal.domain.payments import paylinks, references
from portal.domain.payments.transfer import epc_qr_data_uri
from portal.mails.compose import (
    Composer,
    pay_link_url,
    sender_for,
)
from portal.mails.debtors import (
    PaymentMails,
)
from portal.mails.system import CredentialMails
from portal.mails.values import (
    new_invoice_values,
    reminder_values,
)
from portal.models import (
    FONTS,
    Debtor,
    Invoice,
    InvoiceStatus,
    OutboxMessage,
    PayLink,
    ReminderStep,
)


class ReminderMails(PaymentMails):
    """Reminders of the dunning run, in the debtor's language, with a pay-link."""

    def reminder(
        self,
        session: Session,
        debtor: Debtor,
        step: ReminderStep,
        invoices: Sequence[Invoice],
        costs_cents: int,
        dedupe_key: str,
        channel: str = "email",
    ) -> OutboxMessage | None:
        """Add one reminder for all `invoices` on `channel` to the session (not flushed);
        None when the debtor cannot be reached that way (no email address, no E.164 phone,
        no postal address).

        Only what to write goes into the outbox now; the worker writes the mail or SMS
        when it sends it (`SendTimeRenderer`), and a letter is written when it is printed
        (`LetterWriter`); the pay-link is made then too. So a run of many thousands stays
        quick. The deadline it states is counted then too, from the day it is sent or
        printed (`terms.deadline`), so a slow outbox never shortens the debtor's period.
        """
        if not engine.reachable(debtor, channel):
            return None
        data = {
            "step_kind": step.kind,
            "invoice_ids": [i.id for i in invoices],
            "costs_cents": costs_cents,
        }
        message: OutboxMessage
        if channel == "sms":
            message = sms.queue_sms(
                session,
                kind="reminder",
                recipient=debtor.phone,
                body="",
                debtor_id=debtor.id,
                brand_id=debtor.brand_id,
                dedupe_key=dedupe_key,
                window=sms.DAYTIME if step.schedule.sms_daytime_only else None,
                render_key="reminder",
                render_data=data,
            )
        elif channel == "letter":
            message = letters.queue_letter(
                session,
                debtor,
                kind="reminder",
                dedupe_key=dedupe_key,
                render_key="reminder",
                render_data=data,
            )
        else:
            message = queue_email(
                session,
                kind="reminder",
                recipient=debtor.primary_email,
                subject="",
                body_text="",
                sender=sender_for(debtor.brand, self.settings),
                debtor_id=debtor.id,
                brand_id=debtor.brand_id,
                dedupe_key=dedupe_key,
                render_key="reminder",
                render_data=data,
            )
        return message

    def reminder_composer(
        self,
        session: Session,
        message: OutboxMessage,
        deadline: dt.date | None = None,
        pay_button: Callable[[Composer, str, list[Invoice]], Composer] | None = None,
    ) -> Composer | None:
        """The variables of a queued reminder with the amounts open now; None when none
        of its invoices is open any more. `deadline` is the one a letter states (from its
        print day); a mail or SMS states the one counted from today, its sending day."""
        if message.render_key != "reminder" or message.render_data is None:
            raise ValueError(f"cannot write a message of kind {message.render_key!r}")
        data = message.render_data
        debtor = session.get_one(Debtor, message.debtor_id)
        invoices = list(
            session.scalars(
                select(Invoice)
                .where(
                    Invoice.id.in_(data["invoice_ids"]),
                    Invoice.status == InvoiceStatus.OPEN.value,
                    Invoice.open_cents > 0,
                )
                .order_by(Invoice.due_date, Invoice.id)
            )
        )
        if not invoices:
            return None
        url = pay_link_url(self._link_of(session, message, debtor, invoices), self.settings)
        regime = terms.regime_of(debtor)
        principal = [i for i in invoices if i.kind == "invoice"]
        costs_cents = 0
        if int(data.get("costs_cents") or 0) and principal:  # announced: over what is open now
            costs_cents = terms.costs(regime, sum(i.open_cents for i in principal), len(principal))
        if deadline is None:
            sent_on = today(self.settings.portal_timezone)
            deadline = terms.deadline(message.channel, sent_on, self.calendar(debtor))
        composer = reminder_values(
            self.composer(debtor),
            data["step_kind"],
            invoices,
            url,
            costs_cents,
            deadline,
            regime,
        )
        return pay_button(composer, url, invoices) if pay_button else composer

    @staticmethod
    def calendar(debtor: Debtor) -> str:
        """Whose public holidays count for this debtor's deadlines."""
        return terms.calendar_of(debtor.country, debtor.brand.country)

    def _link_of(
        self, session: Session, message: OutboxMessage, debtor: Debtor, invoices: list[Invoice]
    ) -> PayLink:
        """The message's pay-link, made the first time it is written (for what is open)."""
        data = message.render_data or {}
        if data.get("pay_link_id"):
            return session.get_one(PayLink, data["pay_link_id"])
        link = paylinks.create(
            session,
            debtor,
            invoices,
            actor="system",
            purpose="reminder",
            days=self.settings.pay_link_days,
        )
        message.render_data = {**data, "pay_link_id": link.id}
        return link

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
        composer = new_invoice_values(
            self.composer(debtor), invoices, pay_link_url(link, self.settings)
        )
        self._queue(session, "new_invoices", debtor, composer, dedupe_key)
        return True


class SendTimeRenderer(ReminderMails):
    """Writes messages that were queued with a render_key, just before they are sent.

    One renderer serves one batch of the worker, and looks each brand's text up once.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._sources: dict[tuple[int, str, str], templates.Source] = {}
        self._credentials = CredentialMails(settings)

    def _source(self, session: Session, composer: Composer, key: str) -> templates.Source:
        memo = (composer.brand.id, key, composer.language)
        if memo not in self._sources:
            self._sources[memo] = templates.current(session, *memo)
        return self._sources[memo]

    def __call__(self, session: Session, message: OutboxMessage) -> bool | Written:
        """Fill in subject and bodies (an SMS: its text); False when none of the invoices
        is open any more. A credential mail is written for this attempt only (`Written`)."""
        if message.render_key in CREDENTIAL_KINDS:
            return self._credentials(session, message)
        composer = self.reminder_composer(session, message)
        if composer is None:
            return False
        kind = message.render_data["step_kind"] if message.render_data else ""
        if message.channel == "sms":
            message.body_text = composer.render_sms(
                self._source(session, composer, templates.sms_key(kind))
            )
            message.subject = sms.first_line(message.body_text)
            return True
        message.subject, message.body_text, message.body_html = composer.render(
            self._source(session, composer, kind), f"cid:{LOGO_CID}"
        )
        return True


class LetterWriter(ReminderMails):
    """Writes a queued letter when its print batch is made: the step's mail text (its HTML
    body) in a letter layout for a window envelope, with a QR code of the pay-link."""

    def __call__(self, session: Session, message: OutboxMessage, printed_on: dt.date) -> str | None:
        """The letter's HTML (one `<section>` of the batch); None when nothing is open."""
        debtor = session.get_one(Debtor, message.debtor_id)
        deadline = terms.deadline("letter", printed_on, self.calendar(debtor))
        composer = self.reminder_composer(session, message, deadline, self._pay_block)
        if composer is None:
            return None
        kind = message.render_data["step_kind"] if message.render_data else ""
        source = composer.with_legal(
            templates.current(session, composer.brand.id, kind, composer.language)
        )
        html_context, text_context = composer.contexts()
        rendered = templates.render(source, html_context, text_context)
        brand = composer.brand
        with force_locale(composer.language):
            html = render_template(
                "pdf/letter.html",
                brand=brand,
                debtor=debtor,
                subject=rendered.subject,
                body=rendered.html,
                printed_on=printed_on,
                lang=composer.language,
                font=FONTS.get(brand.font, FONTS["system"]),
                primary=safe_color(brand.primary_color, "#1d4ed8"),
                logo=documents.logo_data_uri(session, brand),
            )
        message.subject = rendered.subject
        message.body_text = rendered.text
        message.body_html = html
        return html

    def _pay_block(self, composer: Composer, url: str, invoices: list[Invoice]) -> Composer:
        """On paper the pay button is a QR code of the pay-link, with the link written out,
        and the bank transfer: IBAN, the structured reference of this request and an EPC
        QR code that fills it all in."""
        brand = composer.brand
        reference = ""
        epc = None
        total = sum(i.open_cents for i in invoices)
        if brand.iban and invoices:
            session = object_session(invoices[0])
            assert session is not None
            debtor = session.get_one(Debtor, invoices[0].debtor_id)
            reference = references.pretty(references.for_invoices(session, debtor, invoices))
            if invoices[0].currency == "EUR":
                epc = epc_qr_data_uri(brand.name, brand.iban, total, "", reference)
        with force_locale(composer.language):
            html = render_template(
                "pdf/_pay_qr.html",
                brand=brand,
                url=url,
                qr=segno.make(url, error="m").svg_data_uri(scale=4, border=0),
                amount=composer.values.get("total", ""),
                reference=reference,
                epc=epc,
            )
        composer.html_blocks["pay_button"] = Markup(html)  # noqa: S704 (our autoescaped template)
        return composer


def letters_pdf(pages: list[str]) -> bytes:
    """One PDF of a print batch's letters (each starts on a new page)."""
    html = render_template(
        "pdf/letters.html",
        title=gettext("Letters"),
        pages=[Markup(p) for p in pages],  # noqa: S704 (each from our autoescaped templates)
    )
    return documents.html_to_pdf(html, db.session())
