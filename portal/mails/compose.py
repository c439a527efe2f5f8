"""Composing a debtor mail: the brand's editable text filled in with what the system renders
itself (tables, buttons, the legal notice), wrapped in the branded layout with its CSS
inlined; the sender and pay-link addresses."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import css_inline
from flask import current_app, render_template
from flask_babel import force_locale, gettext
from markupsafe import Markup
from sqlalchemy.orm import Session

from portal import i18n
from portal.config import Settings
from portal.domain import clock
from portal.domain.brands import safe_color
from portal.domain.messaging import templates
from portal.domain.messaging.outbox import LOGO_CID
from portal.domain.payments import paylinks
from portal.models import (
    FONTS,
    Brand,
    Debtor,
    Invoice,
    PayLink,
)

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def sender_for(brand: Brand | None, settings: Settings) -> str:
    """The From header: the brand's sender when it has one, else MAIL_FROM."""
    if brand and brand.sender_email:
        return f"{brand.sender_name or brand.name} <{brand.sender_email}>"
    return settings.mail_from


@dataclass(frozen=True)
class Row:
    """A line of the invoice table in a mail (with its due date in a reminder's table)."""

    number: str
    amount_cents: int
    currency: str
    due_date: dt.date | None = None


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
                due_dates=any(r.due_date for r in rows),
            )
            due = gettext("due")
            lines = [
                f"{r.number}  "
                + (f"({due} {i18n.date(r.due_date)})  " if r.due_date else "")
                + i18n.money(r.amount_cents, r.currency)
                for r in rows
            ]
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

    def open_invoices(
        self, invoices: Sequence[Invoice], link_url: str, due_dates: bool = False
    ) -> Composer:
        """The invoices, their open total and the pay-link with its button; `due_dates`
        adds each invoice's due date to the table (the legal table of a reminder)."""
        currency = invoices[0].currency if invoices else "EUR"
        total = sum(i.open_cents for i in invoices)
        today = clock.today(current_app.config["SETTINGS"].portal_timezone)  # as the portal counts
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
            rows = [
                Row(
                    i18n.invoice_label(i),
                    i.open_cents,
                    i.currency,
                    i.due_date if due_dates and i.kind == "invoice" else None,
                )
                for i in invoices
            ]
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
        return self._notice(notice)

    def first_reminder(
        self, invoices: Sequence[Invoice], compensation_cents: int, deadline: dt.date
    ) -> Composer:
        """The notice a Belgian consumer's free first reminder must carry (Book XIX of the
        Code of Economic Law, art. XIX.2): the creditor, the due dates, the amount owed and
        the fixed compensation that follows if it is not paid within 14 days."""
        principal = [i for i in invoices if i.kind == "invoice"]
        currency = invoices[0].currency if invoices else "EUR"
        total = sum(i.open_cents for i in principal)
        brand = self.brand
        with force_locale(self.language):
            self.values["costs"] = i18n.money(compensation_cents, currency)
            self.values["deadline"] = i18n.date(deadline)
            creditor = brand.name + (
                " (" + gettext("enterprise number %(number)s", number=brand.enterprise_number) + ")"
                if brand.enterprise_number
                else ""
            )
            notice = gettext(
                "This first reminder is free of charge. %(creditor)s asks you to pay %(total)s"
                " for the invoices above, which fell due on %(due)s. If we have not received"
                " it by %(deadline)s (14 days), we will charge a fixed compensation of"
                " %(costs)s, as Book XIX of the Code of Economic Law allows.",
                creditor=creditor,
                total=i18n.money(total, currency),
                due=", ".join(i18n.date(d) for d in sorted({i.due_date for i in principal})),
                deadline=i18n.date(deadline),
                costs=i18n.money(compensation_cents, currency),
            )
        return self._notice(notice)

    def _notice(self, notice: str) -> Composer:
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

    def with_legal(self, source: templates.Source) -> templates.Source:
        """`source`, with the legal notice added at the end when it has one to show and an
        older saved text leaves it out (the system renders what the law requires)."""
        if not self.text_blocks.get("costs_notice"):
            return source
        html = (
            source.html if "costs_notice" in source.html else source.html + "\n{{ costs_notice }}"
        )
        text = (
            source.text if "costs_notice" in source.text else source.text + "\n\n{{ costs_notice }}"
        )
        return templates.Source(source.subject, html, text)

    def render(self, source: templates.Source, logo_src: str = "") -> tuple[str, str, str]:
        """Subject, text and HTML of `source` in this brand's layout."""
        source = self.with_legal(source)
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


def pay_link_url(link: PayLink, settings: Settings) -> str:
    """The public URL of a pay-link."""
    return f"{settings.base_url}/p/{paylinks.token(link, settings.secret_key)}"
