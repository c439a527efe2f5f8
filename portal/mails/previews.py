"""Variables for the message editor's live preview and checks: a real debtor's open
invoices, or made-up ones; nothing is created."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import force_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import i18n
from portal.config import Settings
from portal.domain.dunning import engine, terms
from portal.domain.messaging import templates
from portal.domain.payments import paylinks
from portal.mails.compose import (
    Composer,
    Row,
)
from portal.mails.values import (
    email_confirm_values,
    instalment_pay,
    instalment_values,
    new_invoice_values,
    plan_values,
    reminder_values,
    request_values,
)
from portal.models import (
    Brand,
    Debtor,
    DebtorRequest,
    Instalment,
    InstalmentPlan,
    Invoice,
    InvoiceStatus,
)


def preview_composer(
    session: Session,
    brand: Brand,
    key: str,
    language: str,
    settings: Settings,
    day: dt.date,
    debtor: Debtor | None = None,
    made_up: int = 2,
) -> Composer:
    """The variables `key` would get, for a real debtor of `brand` or for a made-up one
    (with `made_up` invoices).

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
            costs_cents = engine.costs(debtor, step, invoices)
    else:
        composer.values["debtor"] = {"name": "Jansen B.V.", "number": "10001"}
    if not invoices:
        invoices = _sample_invoices(day, made_up)
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
    if key == "email_changed":
        return composer
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
    regime = terms.regime_of(debtor) if debtor is not None else "nl_b2c"
    deadline = terms.deadline("email", day)
    return reminder_values(composer, kind, invoices, link, costs_cents, deadline, regime)


def _login_values(composer: Composer, link: str) -> Composer:
    composer.values.update(login_link=link, minutes=15, several_accounts=False)
    with force_locale(composer.language):
        label = gettext("Open my invoices")
    return composer.button("login_button", link, label)


def _made_up_plan(total_cents: int, start: dt.date, status: str) -> InstalmentPlan:
    """A plan of three monthly instalments for previews (never added to a session)."""
    from portal.domain.plans import schedules

    plan = InstalmentPlan(id=0, status=status, currency="EUR", total_cents=total_cents)
    plan.instalments = [
        Instalment(seq=n, due_date=d, cents=c, paid_cents=0)
        for n, (d, c) in enumerate(
            schedules.schedule(total_cents, 3, start, schedules.MONTHLY), start=1
        )
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


def _sample_invoices(day: dt.date, count: int = 2) -> list[Invoice]:
    """Made-up invoices, two unless asked for more (never added to a session)."""
    made_up = [("2026-0101", 12100, 21), ("2026-0117", 48400, 7)]
    made_up += [(f"2025-{n:05d}", 1000 + 37 * n, 30 + n % 300) for n in range(count - 2)]
    return [
        Invoice(
            number=number,
            currency="EUR",
            total_cents=cents,
            open_cents=cents,
            invoice_date=day - dt.timedelta(days=age + 30),
            due_date=day - dt.timedelta(days=age),
        )
        for number, cents, age in made_up[:count]
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


BUSY_DEBTOR_INVOICES = 500  # a text must also render for a debtor with this many invoices


def sample_contexts(
    session: Session, brand: Brand, key: str, language: str, settings: Settings, day: dt.date
) -> dict[str, Mapping[str, Any]]:
    """Contexts to try a template with before it is saved: a made-up debtor with two
    invoices, and one with BUSY_DEBTOR_INVOICES (caps a text would hit only for a large
    debtor are found before it is saved)."""
    html_context, text_context = preview_composer(
        session, brand, key, language, settings, day
    ).contexts()
    busy_html, busy_text = preview_composer(
        session, brand, key, language, settings, day, made_up=BUSY_DEBTOR_INVOICES
    ).contexts()
    return {
        "html": html_context,
        "text": text_context,
        "busy_html": busy_html,
        "busy_text": busy_text,
    }
