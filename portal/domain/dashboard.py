"""Figures for the admin dashboard: open and overdue totals per brand and per segment.
Records made with an API test key are left out (DESIGN.md section 9)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.domain import liveness
from portal.domain.api import TEST_PREFIX
from portal.models import (
    Brand,
    Debtor,
    Invoice,
    InvoiceStatus,
    JobRun,
    OutboxMessage,
    OutboxStatus,
    Segment,
)


@dataclass(frozen=True)
class TotalsRow:
    label: str
    currency: str
    open_count: int
    open_cents: int
    overdue_count: int
    overdue_cents: int


def totals(session: Session, by: Literal["brand", "segment"], today: dt.date) -> list[TotalsRow]:
    """Open and overdue counts and amounts per brand or per segment, in one query."""
    is_open = Invoice.status == InvoiceStatus.OPEN
    overdue = is_open & (Invoice.due_date < today)
    label = Brand.name if by == "brand" else Segment.name
    stmt = select(
        label,
        Invoice.currency,
        func.sum(case((is_open, 1), else_=0)),
        func.sum(case((is_open, Invoice.open_cents), else_=0)),
        func.sum(case((overdue, 1), else_=0)),
        func.sum(case((overdue, Invoice.open_cents), else_=0)),
    ).select_from(Invoice)
    stmt = stmt.where(~Invoice.number.startswith(TEST_PREFIX, autoescape=True))
    if by == "brand":
        stmt = stmt.join(Brand, Brand.id == Invoice.brand_id)
    else:
        stmt = stmt.join(Debtor, Debtor.id == Invoice.debtor_id).outerjoin(
            Segment, Segment.id == Debtor.segment_id
        )
    stmt = stmt.group_by(label, Invoice.currency).order_by(label, Invoice.currency)
    return [
        TotalsRow(str(name or "—"), currency, int(n or 0), int(c or 0), int(on or 0), int(oc or 0))
        for name, currency, n, c, on, oc in session.execute(stmt)
    ]


# ---------------------------------------------------------------------------- health
OLDEST_DUE_WARNING = dt.timedelta(minutes=15)
WORKER_QUIET_WARNING = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Health:
    """What the dashboard warns about: mail in doubt or failing, mail waiting too long, a
    quiet worker, a morning run that did not happen."""

    in_doubt: int
    failed_last_day: int
    oldest_due: dt.datetime | None  # the due time of the longest-waiting message
    worker_seen: dt.datetime | None
    last_morning_run: JobRun | None
    now: dt.datetime
    morning_run_utc: dt.time = dt.time(7, 0)

    @property
    def waiting_minutes(self) -> int:
        """How long the longest-waiting due message waits, in whole minutes."""
        if self.oldest_due is None:
            return 0
        return int((self.now - self.oldest_due).total_seconds() // 60)

    @property
    def mail_late(self) -> bool:
        return self.oldest_due is not None and self.now - self.oldest_due > OLDEST_DUE_WARNING

    @property
    def worker_quiet(self) -> bool:
        return self.worker_seen is None or self.now - self.worker_seen > WORKER_QUIET_WARNING

    @property
    def worker_quiet_minutes(self) -> int:
        if self.worker_seen is None:
            return 0
        return int((self.now - self.worker_seen).total_seconds() // 60)

    @property
    def morning_missed(self) -> bool:
        """No dunning run started since the last morning run time (07:00 UTC + grace)."""
        run = self.last_morning_run
        due = liveness.morning_run_due(self.now, self.morning_run_utc)
        return run is None or run.started_at < due

    @property
    def morning_failed(self) -> bool:
        run = self.last_morning_run
        return run is not None and not self.morning_missed and run.status == "failed"

    @property
    def warnings(self) -> int:
        return sum(
            (
                self.in_doubt > 0,
                self.failed_last_day > 0,
                self.mail_late,
                self.worker_quiet,
                self.morning_missed or self.morning_failed,
            )
        )


def health(session: Session, now: dt.datetime, morning_run_utc: dt.time) -> Health:
    """The dashboard's warnings, read in a few small queries."""
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count())
            .where(
                (OutboxMessage.status == OutboxStatus.DOUBT)
                | (
                    (OutboxMessage.status == OutboxStatus.FAILED)
                    & (OutboxMessage.claimed_at >= now - dt.timedelta(days=1))
                )
            )
            .group_by(OutboxMessage.status)
        ).all()
    )
    oldest_due = session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.channel.in_(("email", "sms")),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
    )
    return Health(
        in_doubt=int(counts.get(OutboxStatus.DOUBT.value, 0)),
        failed_last_day=int(counts.get(OutboxStatus.FAILED.value, 0)),
        oldest_due=oldest_due,
        worker_seen=liveness.worker_seen(session),
        last_morning_run=liveness.last_run(session, "dunning"),
        now=now,
        morning_run_utc=morning_run_utc,
    )
