"""Mails to debtors: the brand's editable texts (messaging/templates.py), filled in with
what the system renders itself, wrapped in the branded layout and written to the outbox."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
import segno
from flask import render_template
from flask_babel import force_locale, gettext
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import i18n
from portal.config import Settings
from portal.domain import documents, plan_progress
from portal.domain.brands import safe_color
from portal.domain.dunning import engine
from portal.domain.login import LinkMail
from portal.domain.messaging import letters, sms, templates
from portal.domain.messaging.outbox import LOGO_CID, queue_email
from portal.domain.payments import paylinks
from portal.models import (
    FONTS,
    AdminUser,
    Brand,
    Debtor,
    DebtorRequest,
    Instalment,
    InstalmentPlan,
    Invoice,
    InvoiceStatus,
    OutboxMessage,
    PayLink,
    Payment,
    ReminderStep,
    utcnow,
)

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def sender_for(brand: Brand | None, settings: Settings) -> str:
    """The From header: the brand's sender when it has one, else MAIL_FROM."""
    if brand and brand.sender_email:
        return f"{brand.sender_name or brand.name} <{brand.sender_email}>"
    return settings.mail_from


@dataclass(frozen=True)
class Row:
    """A line of the invoice table in a mail."""

    number: str
    amount_cents: int
    currency: str


@dataclass
class Composer:
    """Builds the variables of a message in one language and renders it for a brand.

    `values` are plain data every part sees; `blocks` are the parts the system renders
    (HTML for the HTML body, text for the rest), like the invoice table and pay button.
    """

    brand: Brand
    language: str
    values: dict[str, Any]
    html_blocks: dict[str, Markup]
    text_blocks: dict[str, str]

    @classmethod
    def start(cls, brand: Brand, language: str, portal_link: str) -> Composer:
        return cls(
            brand,
            language,
            {"brand": brand_values(brand), "portal_link": portal_link},
            {},
            {},
        )

    def debtor(self, debtor: Debtor) -> Composer:
        self.values["debtor"] = {"name": debtor.name, "number": debtor.number}
        return self

    def table(
        self, rows: Sequence[Row], total_cents: int | None, currency: str, heading: str = ""
    ) -> Composer:
        """The `invoice_table` block; `heading` names the first column (else "Invoice")."""
        with force_locale(self.language):
            html = render_template(
                "email/_invoices.html",
                rows=rows,
                total_cents=total_cents,
                currency=currency,
                heading=heading,
            )
            lines = [f"{r.number}  {i18n.money(r.amount_cents, r.currency)}" for r in rows]
            if total_cents is not None:
                lines.append(f"{gettext('Total')}: {i18n.money(total_cents, currency)}")
        self.html_blocks["invoice_table"] = Markup(html)  # noqa: S704 (our autoescaped template)
        self.text_blocks["invoice_table"] = "\n".join(lines)
        return self

    def button(self, name: str, href: str, label: str) -> Composer:
        html = render_template(
            "email/_button.html", brand=self.brand, button_href=href, button_label=label
        )
        self.html_blocks[name] = Markup(html)  # noqa: S704 (our autoescaped template)
        self.text_blocks[name] = href
        return self

    def open_invoices(self, invoices: Sequence[Invoice], link_url: str) -> Composer:
        """The invoices, their open total and the pay-link with its button."""
        currency = invoices[0].currency if invoices else "EUR"
        total = sum(i.open_cents for i in invoices)
        today = dt.date.today()
        with force_locale(self.language):
            self.values["invoices"] = [
                {
                    "number": i18n.invoice_label(i),
                    "amount": i18n.money(i.total_cents, i.currency),
                    "open": i18n.money(i.open_cents, i.currency),
                    "invoice_date": i18n.date(i.invoice_date),
                    "due_date": i18n.date(i.due_date),
                    "days_overdue": max(0, (today - i.due_date).days),
                }
                for i in invoices
            ]
            self.values["total"] = i18n.money(total, currency)
            self.values["pay_link"] = link_url
            label = gettext("Pay now")
            rows = [Row(i18n.invoice_label(i), i.open_cents, i.currency) for i in invoices]
        self.table(rows, total, currency)
        return self.button("pay_button", link_url, label)

    def costs(
        self, total_cents: int, costs_cents: int, currency: str, deadline: dt.date
    ) -> Composer:
        """The announced costs and the legal notice with amount, costs and deadline."""
        with force_locale(self.language):
            self.values["costs"] = i18n.money(costs_cents, currency) if costs_cents else ""
            self.values["deadline"] = i18n.date(deadline)
            notice = (
                gettext(
                    "If we have not received %(total)s by %(deadline)s, we will charge"
                    " collection costs of %(costs)s as the law allows.",
                    total=i18n.money(total_cents, currency),
                    deadline=i18n.date(deadline),
                    costs=i18n.money(costs_cents, currency),
                )
                if costs_cents
                else ""
            )
        self.text_blocks["costs_notice"] = notice
        self.html_blocks["costs_notice"] = (
            Markup('<p class="notice">{}</p>').format(notice) if notice else Markup("")
        )
        return self

    def contexts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The HTML and the text context."""
        return {**self.values, **self.html_blocks}, {**self.values, **self.text_blocks}

    def render_sms(self, source: templates.Source) -> str:
        """The text of an SMS: its one part, on as few segments as the words allow."""
        _html, text_context = self.contexts()
        rendered = templates.render(source, {}, text_context, parts=("text",))
        return sms_text(rendered.text)

    def render(self, source: templates.Source, logo_src: str = "") -> tuple[str, str, str]:
        """Subject, text and HTML of `source` in this brand's layout."""
        html_context, text_context = self.contexts()
        rendered = templates.render(source, html_context, text_context)
        with force_locale(self.language):
            html = render_template(
                "email/_layout.html",
                brand=self.brand,
                body=rendered.html,
                font=FONTS.get(self.brand.font, FONTS["system"]),
                primary=safe_color(self.brand.primary_color, "#1d4ed8"),
                logo_src=logo_src if self.brand.logo_mime else "",
            )
            footer = render_template("email/_footer.txt", brand=self.brand)
        text = rendered.text.strip() + "\n\n-- \n" + footer.strip() + "\n"
        return rendered.subject, text, _INLINER.inline(html)


def sms_text(text: str) -> str:
    """No-break spaces (amounts and dates in nl and fr) are plain spaces in an SMS: they
    are not in the GSM alphabet and would make every text a short UCS-2 one."""
    return text.replace("\u00a0", " ").replace("\u202f", " ").strip()


def brand_values(brand: Brand) -> dict[str, str]:
    """What templates may read of a brand."""
    return {
        "name": brand.name,
        "support_email": brand.support_email,
        "support_phone": brand.support_phone,
        "iban": brand.iban,
        "enterprise_number": brand.enterprise_number,
        "vat_number": brand.vat_number,
    }


def logo_data_uri(brand: Brand) -> str:
    """The brand's logo inline, for previews in admin (mails refer to it by Content-ID)."""
    if not brand.logo or not brand.logo_mime:
        return ""
    return f"data:{brand.logo_mime};base64,{base64.b64encode(brand.logo).decode()}"


def render_message(
    session: Session, composer: Composer, key: str, logo_src: str = f"cid:{LOGO_CID}"
) -> tuple[str, str, str]:
    """Subject, text and HTML of the brand's current text for `key`."""
    source = templates.current(session, composer.brand.id, key, composer.language)
    return composer.render(source, logo_src)


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


def pay_link_url(link: PayLink, settings: Settings) -> str:
    """The public URL of a pay-link."""
    return f"{settings.base_url}/p/{paylinks.token(link, settings.secret_key)}"


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
        self, session: Session, request: DebtorRequest, email: str, raw_token: str
    ) -> None:
        """The single-use link to the new address; the change waits for it."""
        debtor = request.debtor
        link = f"{self.settings.base_url}/contact/confirm/{raw_token}"
        composer = email_confirm_values(self.composer(debtor), link, email)
        subject, text, html = render_message(session, composer, "email_confirm")
        queue_email(
            session,
            kind="email_confirm",
            recipient=email,
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


def request_values(
    composer: Composer, request: DebtorRequest, answer: str, settings: Settings
) -> Composer:
    """The variables of a request update."""
    with force_locale(composer.language):
        composer.values["request"] = {
            "kind": i18n.request_kind_label(request.kind),
            "state": i18n.request_state_label(request.state),
            "invoice": request.invoice.number if request.invoice else "",
        }
    composer.values["answer"] = answer
    composer.values["requests_link"] = f"{settings.base_url}/requests"
    return composer


def plan_values(
    composer: Composer, plan: InstalmentPlan, note: str, settings: Settings
) -> Composer:
    """The variables of a plan update: the plan in words, its schedule as a table (rendered
    by the system), the admin's note and the link to the plan in the portal."""
    currency = plan.currency
    with force_locale(composer.language):
        composer.values["plan"] = {
            "status": i18n.plan_status_label(plan.status),
            "total": i18n.money(plan.total_cents, currency),
            "count": len(plan.instalments),
        }
        rows = [
            Row(f"{i.seq}. {i18n.date(i.due_date)}", i.cents, currency) for i in plan.instalments
        ]
        heading = gettext("Due")
    composer.table(rows, plan.total_cents, currency, heading)
    composer.html_blocks["schedule_table"] = composer.html_blocks.pop("invoice_table")
    composer.text_blocks["schedule_table"] = composer.text_blocks.pop("invoice_table")
    composer.values["note"] = note
    composer.values["plan_link"] = f"{settings.base_url}/plans/{plan.id}"
    return composer


def email_confirm_values(composer: Composer, link: str, email: str) -> Composer:
    """The variables of the confirmation of a new email address."""
    from portal.domain.requests import EMAIL_CONFIRM_MINUTES

    composer.values.update(confirm_link=link, hours=EMAIL_CONFIRM_MINUTES // 60, email=email)
    with force_locale(composer.language):
        label = gettext("Confirm this address")
    return composer.button("confirm_button", link, label)


def receipt_values(composer: Composer, payment: Payment, paid_on: dt.date) -> Composer:
    """The variables of a receipt."""
    currency = payment.currency
    with force_locale(composer.language):
        composer.values.update(
            amount=i18n.money(payment.received_cents, currency),
            paid_on=i18n.date(paid_on),
            reference=payment.public_id,
            credit=i18n.money(payment.unallocated_cents, currency)
            if payment.unallocated_cents
            else "",
        )
    rows = [Row(a.invoice.number, a.amount_cents, currency) for a in payment.allocations]
    return composer.table(rows, payment.received_cents, currency)


def reminder_values(
    composer: Composer,
    step_kind: str,
    invoices: Sequence[Invoice],
    link_url: str,
    costs_cents: int,
    deadline: dt.date,
) -> Composer:
    """The variables of a reminder step."""
    composer.open_invoices(invoices, link_url)
    composer.values["step"] = {"kind": step_kind}
    total = sum(i.open_cents for i in invoices)
    return composer.costs(total, costs_cents, invoices[0].currency, deadline)


def new_invoice_values(composer: Composer, invoices: Sequence[Invoice], link_url: str) -> Composer:
    """The variables of the new-invoices mail."""
    composer.open_invoices(invoices, link_url)
    with force_locale(composer.language):
        composer.values["first_due"] = i18n.date(min(i.due_date for i in invoices))
    composer.values["count"] = len(invoices)
    return composer


class ReminderMails(PaymentMails):
    """Reminders of the dunning run, in the debtor's language, with a pay-link."""

    def reminder(
        self,
        session: Session,
        debtor: Debtor,
        step: ReminderStep,
        invoices: Sequence[Invoice],
        costs_cents: int,
        deadline: dt.date,
        dedupe_key: str,
        channel: str = "email",
    ) -> OutboxMessage | None:
        """Add one reminder for all `invoices` on `channel` to the session (not flushed);
        None when the debtor cannot be reached that way (no email address, no E.164 phone,
        no postal address).

        Only what to write goes into the outbox now; the worker writes the mail or SMS
        when it sends it (`SendTimeRenderer`), and a letter is written when it is printed
        (`LetterWriter`); the pay-link is made then too. So a run of many thousands stays
        quick.
        """
        if not engine.reachable(debtor, channel):
            return None
        data = {
            "step_kind": step.kind,
            "invoice_ids": [i.id for i in invoices],
            "costs_cents": costs_cents,
            "deadline": deadline.isoformat(),
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
        pay_button: Callable[[Composer, str], Composer] | None = None,
    ) -> Composer | None:
        """The variables of a queued reminder with the amounts open now; None when none
        of its invoices is open any more. `deadline` replaces the one of the run (a
        letter's runs from the day it is printed)."""
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
        composer = reminder_values(
            self.composer(debtor),
            data["step_kind"],
            invoices,
            url,
            int(data["costs_cents"]),
            deadline or dt.date.fromisoformat(data["deadline"]),
        )
        return pay_button(composer, url) if pay_button else composer

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


def instalment_values(
    composer: Composer,
    plan: InstalmentPlan,
    instalment: Instalment,
    plan_link: str,
    today: dt.date,
) -> Composer:
    """The variables that describe one instalment of a plan."""
    with force_locale(composer.language):
        composer.values["instalment"] = {
            "seq": instalment.seq,
            "count": len(plan.instalments),
            "amount": i18n.money(instalment.open_cents or instalment.cents, plan.currency),
            "due_date": i18n.date(instalment.due_date),
            "overdue": instalment.due_date < today,
            "days_overdue": max(0, (today - instalment.due_date).days),
        }
    composer.values["plan_link"] = plan_link
    return composer


def instalment_row(composer: Composer, instalment: Instalment) -> Composer:
    """The invoice table and total of a mail become the one instalment asked."""
    plan = instalment.plan
    with force_locale(composer.language):
        label = gettext(
            "Instalment %(seq)d of %(count)d", seq=instalment.seq, count=len(plan.instalments)
        )
        composer.values["total"] = i18n.money(instalment.open_cents, plan.currency)
    row = Row(label, instalment.open_cents, plan.currency)
    return composer.table([row], instalment.open_cents, plan.currency)


def instalment_pay(composer: Composer, url: str, seq: int) -> Composer:
    """The pay-link and button of one instalment."""
    composer.values["pay_link"] = url
    with force_locale(composer.language):
        label = gettext("Pay instalment %(seq)d", seq=seq)
    return composer.button("pay_button", url, label)


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
        invoices = plan_progress.open_invoices(plan)
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


class SendTimeRenderer(ReminderMails):
    """Writes messages that were queued with a render_key, just before they are sent.

    One renderer serves one batch of the worker, and looks each brand's text up once.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._sources: dict[tuple[int, str, str], templates.Source] = {}

    def _source(self, session: Session, composer: Composer, key: str) -> templates.Source:
        memo = (composer.brand.id, key, composer.language)
        if memo not in self._sources:
            self._sources[memo] = templates.current(session, *memo)
        return self._sources[memo]

    def __call__(self, session: Session, message: OutboxMessage) -> bool:
        """Fill in subject and bodies (an SMS: its text); False when none of the invoices
        is open any more."""
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
        composer = self.reminder_composer(
            session, message, letters.deadline(printed_on), self._pay_block
        )
        if composer is None:
            return None
        debtor = session.get_one(Debtor, message.debtor_id)
        kind = message.render_data["step_kind"] if message.render_data else ""
        source = templates.current(session, composer.brand.id, kind, composer.language)
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

    def _pay_block(self, composer: Composer, url: str) -> Composer:
        """On paper the pay button is a QR code of the pay-link, with the link written out."""
        with force_locale(composer.language):
            html = render_template(
                "pdf/_pay_qr.html",
                brand=composer.brand,
                url=url,
                qr=segno.make(url, error="m").svg_data_uri(scale=4, border=0),
                amount=composer.values.get("total", ""),
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
    return documents.html_to_pdf(html)


def preview_composer(
    session: Session,
    brand: Brand,
    key: str,
    language: str,
    settings: Settings,
    day: dt.date,
    debtor: Debtor | None = None,
) -> Composer:
    """The variables `key` would get, for a real debtor of `brand` or for a made-up one.

    A real debtor's open invoices are used as they are today; the pay-link is a dummy
    (a preview creates nothing), and costs follow the debtor's own schedule.
    """
    composer = Composer.start(brand, language, f"{settings.base_url}/overview")
    link = f"{settings.base_url}/p/preview"
    kind = key.removeprefix(templates.SMS_PREFIX)
    if kind != key:  # an SMS: a dummy link as long as a real one, so the count is right
        link = f"{settings.base_url}/p/" + paylinks.sample_token(settings.secret_key)
    invoices: list[Invoice] = []
    costs_cents = 0
    if debtor is not None:
        composer.debtor(debtor)
        invoices = list(
            session.scalars(
                select(Invoice)
                .where(
                    Invoice.debtor_id == debtor.id,
                    Invoice.status == InvoiceStatus.OPEN.value,
                    Invoice.open_cents > 0,
                )
                .order_by(Invoice.due_date, Invoice.id)
            )
        )
        schedule = engine.schedule_for(session, debtor)
        step = next((s for s in schedule.steps if s.kind == kind), None) if schedule else None
        if step is not None and invoices:
            costs_cents = engine.costs(step, sum(i.open_cents for i in invoices))
    else:
        composer.values["debtor"] = {"name": "Jansen B.V.", "number": "10001"}
    if not invoices:
        invoices = _sample_invoices(day)
        if kind in ("notice", "fourteen_day"):
            costs_cents = 4000
    if key == "login_link":
        return _login_values(composer, link)
    if key == "receipt":
        return _sample_receipt(composer, invoices, day)
    if key == "new_invoices":
        return new_invoice_values(composer, invoices, link)
    if key == "request_update":
        sample = DebtorRequest(kind="dispute", state="rejected")
        sample.invoice = invoices[0]
        return request_values(
            composer, sample, "We checked the invoice; the amount is right.", settings
        )
    if key == "plan_update":
        return _sample_proposed_plan(composer, day, settings)
    if key == "email_confirm":
        return email_confirm_values(
            composer, f"{settings.base_url}/contact/confirm/preview", "new@example.com"
        )
    if key == "second_chance":
        composer.open_invoices(invoices, link)
        composer.values["days"] = settings.pay_link_days
        return composer
    if key in ("instalment_due", "plan_breached"):
        return _sample_instalment_mail(composer, invoices, link, key, settings, day)
    return reminder_values(composer, kind, invoices, link, costs_cents, day + dt.timedelta(days=15))


def _login_values(composer: Composer, link: str) -> Composer:
    composer.values.update(login_link=link, minutes=15, several_accounts=False)
    with force_locale(composer.language):
        label = gettext("Open my invoices")
    return composer.button("login_button", link, label)


def _made_up_plan(total_cents: int, start: dt.date, status: str) -> InstalmentPlan:
    """A plan of three monthly instalments for previews (never added to a session)."""
    from portal.domain import plans

    plan = InstalmentPlan(id=0, status=status, currency="EUR", total_cents=total_cents)
    plan.instalments = [
        Instalment(seq=n, due_date=d, cents=c, paid_cents=0)
        for n, (d, c) in enumerate(plans.schedule(total_cents, 3, start, plans.MONTHLY), start=1)
    ]
    return plan


def _sample_instalment_mail(
    composer: Composer,
    invoices: Sequence[Invoice],
    link: str,
    key: str,
    settings: Settings,
    day: dt.date,
) -> Composer:
    """An instalment reminder (the second, due in three days) or a breach notice (the
    first, missed) of a made-up plan over `invoices`."""
    total = sum(i.open_cents for i in invoices)
    plan = _made_up_plan(total, day - dt.timedelta(days=27), "active")
    plan_link = f"{settings.base_url}/plans/preview"
    if key == "plan_breached":
        composer.open_invoices(invoices, link)
        return instalment_values(composer, plan, plan.instalments[0], plan_link, day)
    instalment_values(composer, plan, plan.instalments[1], plan_link, day)
    return instalment_pay(composer, link, 2)


def _sample_invoices(day: dt.date) -> list[Invoice]:
    """Two made-up invoices (never added to a session)."""
    return [
        Invoice(
            number=number,
            currency="EUR",
            total_cents=cents,
            open_cents=cents,
            invoice_date=day - dt.timedelta(days=age + 30),
            due_date=day - dt.timedelta(days=age),
        )
        for number, cents, age in (("2026-0101", 12100, 21), ("2026-0117", 48400, 7))
    ]


def _sample_proposed_plan(composer: Composer, day: dt.date, settings: Settings) -> Composer:
    """A made-up proposed plan of three monthly instalments (never added to a session)."""
    plan = _made_up_plan(60500, day + dt.timedelta(days=7), "proposed")
    return plan_values(
        composer, plan, "As agreed on the phone: three monthly instalments.", settings
    )


def _sample_receipt(composer: Composer, invoices: Sequence[Invoice], day: dt.date) -> Composer:
    total = sum(i.open_cents for i in invoices)
    with force_locale(composer.language):
        composer.values.update(
            amount=i18n.money(total, "EUR"),
            paid_on=i18n.date(day),
            reference="pay_preview",
            credit="",
        )
    return composer.table([Row(i.number, i.open_cents, "EUR") for i in invoices], total, "EUR")


def sample_contexts(
    session: Session, brand: Brand, key: str, language: str, settings: Settings, day: dt.date
) -> dict[str, Mapping[str, Any]]:
    """Contexts to try a template with before it is saved."""
    html_context, text_context = preview_composer(
        session, brand, key, language, settings, day
    ).contexts()
    return {"html": html_context, "text": text_context}
