"""Second chance: after a failed, cancelled or expired payment, a fresh pay-link by email.

A payment records `failed_at` when it turns failed, cancelled or expired; once the
delay (SECOND_CHANCE_MINUTES, default 60) has passed, the worker sends, unless the
invoices were paid meanwhile or the debtor started another payment for them. The
outbox's unique key keeps it to one mail per failed payment, however often it runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.payments import paylinks
from portal.models import (
    Debtor,
    Instalment,
    Invoice,
    InvoiceStatus,
    PayLink,
    Payment,
    PaymentInvoice,
    PlanStatus,
    utcnow,
)


class SecondChanceMailer(Protocol):
    """Writes the second-chance mail to the outbox (the app renders it)."""

    def second_chance(
        self,
        session: Session,
        debtor: Debtor,
        invoices: Sequence[Invoice],
        link: PayLink,
        dedupe_key: str,
    ) -> bool:
        """Queue the mail; False when the debtor has no address to send it to."""
        ...


def still_open(invoices: Sequence[Invoice]) -> list[Invoice]:
    """The invoices that are still waiting for money."""
    return [i for i in invoices if i.status == InvoiceStatus.OPEN and i.open_cents > 0]


def _tried_again(session: Session, payment: Payment) -> bool:
    """Whether the debtor started another payment for any of these invoices since."""
    ids = [i.id for i in payment.invoices]
    newer = session.scalar(
        select(Payment.id)
        .join(PaymentInvoice, PaymentInvoice.payment_id == Payment.id)
        .where(
            PaymentInvoice.invoice_id.in_(ids),
            Payment.id != payment.id,
            Payment.created_at > payment.created_at,
        )
        .limit(1)
    )
    return newer is not None


DEFAULT_DELAY = dt.timedelta(hours=1)


def send_due(
    session: Session,
    mailer: SecondChanceMailer,
    *,
    delay: dt.timedelta = DEFAULT_DELAY,
    link_days: int = paylinks.DEFAULT_DAYS,
    now: dt.datetime | None = None,
) -> int:
    """Send every second chance whose time has come; returns how many mails were queued."""
    now = now or utcnow()
    due = session.scalars(
        select(Payment.id)
        .where(Payment.failed_at <= now - delay, Payment.second_chance_sent_at.is_(None))
        .order_by(Payment.failed_at)
        .limit(500)
    ).all()
    sent = 0
    for payment_id in due:
        payment = session.execute(
            select(Payment)
            .where(Payment.id == payment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        if payment.second_chance_sent_at is not None:
            continue  # another worker took it
        payment.second_chance_sent_at = now
        invoices = still_open(payment.invoices)
        if not invoices or _tried_again(session, payment):
            continue
        instalment = payment.instalment
        if instalment is not None and (
            instalment.open_cents == 0 or instalment.plan.status != PlanStatus.ACTIVE
        ):
            continue  # paid meanwhile, or the plan ended: its own mails say what is next
        key = f"second-chance:{payment.id}"
        if _send(
            session,
            mailer,
            payment.debtor,
            invoices,
            key,
            now,
            link_days=link_days,
            instalment=instalment,
        ):
            sent += 1
    return sent


def send_now(
    session: Session,
    mailer: SecondChanceMailer,
    debtor: Debtor,
    invoices: Sequence[Invoice],
    actor: str,
    link_days: int = paylinks.DEFAULT_DAYS,
    now: dt.datetime | None = None,
) -> bool:
    """An admin sends a second chance by hand for open invoices of one debtor."""
    open_ones = still_open(invoices)
    if not open_ones:
        return False
    now = now or utcnow()
    return _send(session, mailer, debtor, open_ones, None, now, actor=actor, link_days=link_days)


def _send(
    session: Session,
    mailer: SecondChanceMailer,
    debtor: Debtor,
    invoices: Sequence[Invoice],
    dedupe_key: str | None,
    now: dt.datetime,
    actor: str = "system",
    link_days: int = paylinks.DEFAULT_DAYS,
    instalment: Instalment | None = None,
) -> bool:
    link = paylinks.create(
        session,
        debtor,
        invoices,
        actor=actor,
        purpose="second_chance",
        days=link_days,
        now=now,
        instalment=instalment,
    )
    key = dedupe_key or f"second-chance:link:{link.id}"
    if not mailer.second_chance(session, debtor, invoices, link, key):
        return False
    audit.record_each(
        session, actor, "payment.second_chance", debtor.id, [i.id for i in invoices], link=link.id
    )
    return True
