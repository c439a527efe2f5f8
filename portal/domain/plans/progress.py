"""Keeping a payment plan: what has been paid of each instalment, reminders before and
after each due date, completion, and the breach that ends a plan.

What is paid is read from the plan's invoices, not from payments: the open amounts agreed
in the plan minus the open amounts now. So money paid any way at all (an instalment paid
in the portal or through its pay-link, a part payment, a bank transfer booked by an import)
counts, and a refund that reopens an invoice counts back. That money fills the instalments
oldest first.

`daily` runs once a day before the dunning run: it brings every active plan up to date,
sends the instalment reminders, and ends a plan whose instalment is `breach_days` late.
After a breach the invoices return to the reminder schedule at the step after the last one
sent; the breach notice counts as a reminder, so the next step waits the schedule's
minimum gap (DESIGN.md section 9).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.dunning import engine, holds
from portal.domain.plans import lifecycle
from portal.domain.plans.listing import with_parts
from portal.models import (
    Debtor,
    Instalment,
    InstalmentPlan,
    Invoice,
    InvoiceStatus,
    OutboxMessage,
    PlanInvoice,
    PlanStatus,
    utcnow,
)

log = logging.getLogger(__name__)

REMIND_BEFORE_DAYS = 3  # the friendly note ahead of a due date
REMIND_AFTER_DAYS = 3  # the reminder once an instalment is this late


# an invoice handed over for collection is still owed: it does not count as paid
STILL_OWED = (InvoiceStatus.OPEN.value, InvoiceStatus.HANDED_OVER.value)


def paid_toward(plan: InstalmentPlan) -> int:
    """What has been paid on the plan's invoices since it was agreed (0 to the total)."""
    agreed = sum(link.open_cents for link in plan.invoices)
    now_open = sum(
        max(link.invoice.open_cents, 0)
        for link in plan.invoices
        if link.invoice.status in STILL_OWED
    )
    return min(max(agreed - now_open, 0), plan.total_cents)


def first_open(plan: InstalmentPlan) -> Instalment | None:
    """The instalment to pay next, or None when all are paid."""
    return next((i for i in plan.instalments if i.open_cents > 0), None)


def refresh(session: Session, plan: InstalmentPlan, now: dt.datetime) -> bool:
    """Spread what has been paid over the instalments, oldest first; complete the plan
    when everything is paid. Returns whether anything changed."""
    if plan.status != PlanStatus.ACTIVE:
        return False
    left = paid_toward(plan)
    changed = False
    for instalment in plan.instalments:
        paid = min(left, instalment.cents)
        left -= paid
        if paid != instalment.paid_cents:
            instalment.paid_cents = paid
            changed = True
        paid_at = instalment.paid_at or now if paid == instalment.cents else None
        if paid_at != instalment.paid_at:
            instalment.paid_at = paid_at
            changed = True
    if first_open(plan) is None:
        lifecycle.move(plan, PlanStatus.COMPLETED, now, "all instalments paid")
        lifecycle.release(session, plan, "system")
        audit.record(session, "system", "plan.completed", debtor_id=plan.debtor_id, plan_id=plan.id)
        changed = True
    return changed


def active_plans(
    session: Session, invoice_ids: Iterable[int] | None = None, lock: bool = False
) -> list[InstalmentPlan]:
    """Active plans (holding any of `invoice_ids`, when given), with what they hold."""
    stmt = (
        select(InstalmentPlan)
        .where(InstalmentPlan.status == PlanStatus.ACTIVE.value)
        .options(*with_parts())
        .order_by(InstalmentPlan.id)
    )
    if invoice_ids is not None:
        ids = list(invoice_ids)
        if not ids:
            return []
        stmt = stmt.where(
            exists().where(
                PlanInvoice.plan_id == InstalmentPlan.id, PlanInvoice.invoice_id.in_(ids)
            )
        )
    if lock:
        stmt = stmt.with_for_update(of=InstalmentPlan).execution_options(populate_existing=True)
    return list(session.scalars(stmt))


def holding(session: Session, debtor_id: int, invoice_id: int) -> InstalmentPlan | None:
    """The debtor's active plan that holds this invoice, if any."""
    return session.scalar(
        select(InstalmentPlan)
        .join(PlanInvoice, PlanInvoice.plan_id == InstalmentPlan.id)
        .where(
            InstalmentPlan.debtor_id == debtor_id,
            InstalmentPlan.status == PlanStatus.ACTIVE.value,
            PlanInvoice.invoice_id == invoice_id,
        )
    )


def after_money(session: Session, invoice_ids: Sequence[int], now: dt.datetime) -> None:
    """Bring the plans holding these invoices up to date after money arrived or went back,
    or an open amount changed otherwise (an import, a credit). The caller holds the
    invoices' row locks; the plans are locked after them, as the daily check does."""
    for plan in active_plans(session, invoice_ids, lock=True):
        refresh(session, plan, now)


def after_import(session: Session, brand_id: int, now: dt.datetime) -> None:
    """Bring the brand's active plans up to date after an import changed open amounts
    (a whole batch: every running plan of the brand, not a list of ids)."""
    ids = select(Debtor.id).where(Debtor.brand_id == brand_id)
    plans = session.scalars(
        select(InstalmentPlan)
        .where(InstalmentPlan.status == PlanStatus.ACTIVE.value, InstalmentPlan.debtor_id.in_(ids))
        .options(*with_parts())
        .with_for_update(of=InstalmentPlan)
        .execution_options(populate_existing=True)
    )
    for plan in plans:
        refresh(session, plan, now)


class PlanMailer(Protocol):
    """Writes the plan's mails to the outbox in the debtor's language."""

    def instalment_due(
        self,
        session: Session,
        plan: InstalmentPlan,
        instalment: Instalment,
        day: dt.date,
        dedupe_key: str,
    ) -> bool:
        """The reminder of an instalment, before or after its due date, with its pay-link;
        False when the debtor has no email address."""
        ...

    def breached(
        self,
        session: Session,
        plan: InstalmentPlan,
        missed: Instalment,
        day: dt.date,
        dedupe_key: str,
    ) -> bool:
        """The notice that the plan ended, with the open invoices and a pay-link."""
        ...


@dataclass
class DailyResult:
    """What a day's plan check did."""

    checked: int = 0
    completed: int = 0
    reminded: int = 0
    breached: int = 0
    expired: int = 0  # proposals not agreed before their first instalment was due


def reminder_key(instalment: Instalment, when: str) -> str:
    """The outbox key of an instalment's reminder ("before" or "after" its due date)."""
    return f"instalment:{instalment.id}:{when}"


def _sent(session: Session, key: str) -> bool:
    return bool(session.scalar(select(exists().where(OutboxMessage.dedupe_key == key))))


def daily(
    session: Session, day: dt.date, mailer: PlanMailer, now: dt.datetime | None = None
) -> DailyResult:
    """The day's check of every active plan, one short transaction per plan (committed
    here). Each plan's invoices and then the plan are locked and read afresh, in the order
    a payment booking takes them, so a payment arriving meanwhile and a second run at the
    same time are seen, never overwritten."""
    now = now or utcnow()
    result = DailyResult(expired=expire_proposals(session, day, now))
    ids = session.scalars(
        select(InstalmentPlan.id)
        .where(InstalmentPlan.status == PlanStatus.ACTIVE.value)
        .order_by(InstalmentPlan.id)
    ).all()
    session.commit()
    for plan_id in ids:
        plan = _locked(session, plan_id)
        if plan.status == PlanStatus.ACTIVE:
            result.checked += 1
            _check(session, plan, day, now, mailer, result)
        session.commit()
    return result


def expire_proposals(session: Session, day: dt.date, now: dt.datetime) -> int:
    """Cancel proposals whose first instalment fell due before the debtor agreed: they can
    no longer be agreed (`lifecycle.accept` refuses them). Committed here."""
    first_due = (
        select(func.min(Instalment.due_date))
        .where(Instalment.plan_id == InstalmentPlan.id)
        .scalar_subquery()
    )
    stale = session.scalars(
        select(InstalmentPlan)
        .where(InstalmentPlan.status == PlanStatus.PROPOSED.value, first_due < day)
        .with_for_update()
    ).all()
    for plan in stale:
        lifecycle.move(plan, PlanStatus.CANCELLED, now, "not agreed before the first due date")
        audit.record(
            session,
            "system",
            "plan.cancelled",
            debtor_id=plan.debtor_id,
            plan_id=plan.id,
            reason="expired",
        )
    session.commit()
    return len(stale)


def _locked(session: Session, plan_id: int) -> InstalmentPlan:
    session.execute(
        select(Invoice.id)
        .join(PlanInvoice, PlanInvoice.invoice_id == Invoice.id)
        .where(PlanInvoice.plan_id == plan_id)
        .order_by(Invoice.id)
        .with_for_update(of=Invoice)
    ).all()
    return session.execute(
        select(InstalmentPlan)
        .where(InstalmentPlan.id == plan_id)
        .with_for_update(of=InstalmentPlan)
        .execution_options(populate_existing=True)
        .options(*with_parts())
    ).scalar_one()


def _check(
    session: Session,
    plan: InstalmentPlan,
    day: dt.date,
    now: dt.datetime,
    mailer: PlanMailer,
    result: DailyResult,
) -> None:
    refresh(session, plan, now)
    if plan.status != PlanStatus.ACTIVE:
        result.completed += 1
        return
    instalment = first_open(plan)
    assert instalment is not None  # an active plan after refresh has one open
    late = (day - instalment.due_date).days
    if late >= plan.breach_days:
        breach(session, plan, instalment, day, now, mailer)
        result.breached += 1
        return
    when = None
    if 0 <= -late <= REMIND_BEFORE_DAYS:
        when = "before"
    elif late >= REMIND_AFTER_DAYS:
        when = "after"
    if when is None or plan.debtor.do_not_contact:
        return
    key = reminder_key(instalment, when)
    if not _sent(session, key) and mailer.instalment_due(session, plan, instalment, day, key):
        result.reminded += 1


def breach(
    session: Session,
    plan: InstalmentPlan,
    missed: Instalment,
    day: dt.date,
    now: dt.datetime,
    mailer: PlanMailer,
) -> None:
    """End the plan: its invoices return to the reminder schedule after a notice."""
    lifecycle.move(
        plan, PlanStatus.BREACHED, now, f"instalment {missed.seq} due {missed.due_date} not paid"
    )
    lifecycle.release(session, plan, "system")
    schedule = engine.schedule_for(session, plan.debtor)
    gap = schedule.min_gap_days if schedule is not None else 7
    still_open = open_invoices(plan)
    notified = False
    if not plan.debtor.do_not_contact and still_open:
        notified = mailer.breached(session, plan, missed, day, f"plan:{plan.id}:breached")
    if notified and gap > 1:
        # the notice counts as a reminder: the next step keeps the schedule's gap from it;
        # an invoice held for another reason (a dispute, say) keeps that hold
        for invoice in still_open:
            if not invoice.hold_reason:
                until = day + dt.timedelta(days=gap - 1)
                holds.pause(session, invoice, "breach", until, "system", day)
    audit.record(
        session,
        "system",
        "plan.breached",
        debtor_id=plan.debtor_id,
        plan_id=plan.id,
        instalment=missed.seq,
        notified=notified,
    )


def open_invoices(plan: InstalmentPlan) -> list[Invoice]:
    """The plan's invoices that are still open, oldest due date first."""
    rows = [
        link.invoice
        for link in plan.invoices
        if link.invoice.status == InvoiceStatus.OPEN and link.invoice.open_cents > 0
    ]
    return sorted(rows, key=lambda i: (i.due_date, i.id))
