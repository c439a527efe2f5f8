"""The variables each kind of mail fills into its editable text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flask_babel import force_locale, gettext

from portal import i18n
from portal.config import Settings
from portal.domain.dunning import terms
from portal.mails.compose import (
    Composer,
    Row,
)
from portal.models import (
    DebtorRequest,
    Instalment,
    InstalmentPlan,
    Invoice,
    Payment,
)


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
    with force_locale(composer.language):  # costs and interest by name: art. 6:44 BW
        rows = [
            Row(i18n.invoice_label(a.invoice), a.amount_cents, currency)
            for a in payment.allocations
        ]
    return composer.table(rows, payment.received_cents, currency)


def reminder_values(
    composer: Composer,
    step_kind: str,
    invoices: Sequence[Invoice],
    link_url: str,
    costs_cents: int,
    deadline: dt.date,
    regime: str = "nl_b2c",
) -> Composer:
    """The variables of a reminder step: the legal table (with due dates), and the notice
    with the costs and the deadline it states, or a Belgian consumer's first reminder's."""
    composer.open_invoices(invoices, link_url, due_dates=True)
    composer.values["step"] = {"kind": step_kind}
    if not costs_cents and terms.first_reminder_notice(regime, step_kind):
        principal = [i for i in invoices if i.kind == "invoice"]
        compensation = terms.costs(regime, sum(i.open_cents for i in principal), len(principal))
        return composer.first_reminder(invoices, compensation, deadline)
    total = sum(i.open_cents for i in invoices)
    return composer.costs(total, costs_cents, invoices[0].currency, deadline)


def new_invoice_values(composer: Composer, invoices: Sequence[Invoice], link_url: str) -> Composer:
    """The variables of the new-invoices mail."""
    composer.open_invoices(invoices, link_url)
    with force_locale(composer.language):
        composer.values["first_due"] = i18n.date(min(i.due_date for i in invoices))
    composer.values["count"] = len(invoices)
    return composer


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
