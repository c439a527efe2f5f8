"""Tables of the work queue. Imported at the end of `portal.models`, so every table is on
the one metadata that Alembic and the tests read."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.db import check_in as _in
from portal.domain.states import StateTable

if TYPE_CHECKING:
    from portal.models import AdminUser, Debtor, Invoice


class TaskReason(enum.StrEnum):
    """Why a task exists."""

    CALL = "call"  # a schedule step of kind "call"
    BROKEN_PROMISE = "broken_promise"
    PLAN_BREACHED = "plan_breached"
    LETTER_UNDELIVERED = "letter_undelivered"  # a 14-day letter that reached no one
    ADDRESS_BOUNCED = "address_bounced"
    DISPUTE_WAITING = "dispute_waiting"  # a dispute nobody answered for 5 days
    MANUAL = "manual"  # made by hand from the debtor page


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


TASK_MOVES = StateTable(
    "task",
    {
        TaskStatus.OPEN: {TaskStatus.DONE, TaskStatus.CANCELLED},
        TaskStatus.DONE: (),
        TaskStatus.CANCELLED: (),
    },
)


class Outcome(enum.StrEnum):
    """What a clerk logs after a call (or a look)."""

    PROMISE = "promise"
    DISPUTE = "dispute"
    WRONG_NUMBER = "wrong_number"
    NO_ANSWER = "no_answer"
    PAID_ALREADY = "paid_already"
    NOTE = "note"
    DONE = "done"
    CANCEL = "cancel"


class WorkTask(Base):
    """A task for the team about one debtor: why, by when, for whom, how urgent."""

    __tablename__ = "work_task"
    __table_args__ = (
        CheckConstraint(_in("reason", TaskReason), name="reason"),
        CheckConstraint(_in("status", TaskStatus), name="status"),
        CheckConstraint("priority BETWEEN 0 AND 100", name="priority"),
        CheckConstraint("attempts >= 0", name="attempts"),
        # one open task per debtor and reason, whoever makes it: the database decides
        # between two workers (SQLite and PostgreSQL both know partial unique indexes)
        Index(
            "uq_work_task_open",
            "debtor_id",
            "reason",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_work_task_queue", "status", "assignee_id", "due_on"),
        # the queue's order (due date, then priority): read in index order, not sorted whole
        Index("ix_work_task_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(10), default=TaskStatus.OPEN.value)
    due_on: Mapped[dt.date] = mapped_column(Date)
    # an admin, or None: the team's (anyone may take it)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_user.id", ondelete="SET NULL")
    )
    priority: Mapped[int] = mapped_column(Integer, default=0)
    at_stake_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # the invoice the event was about (a promise, a dispute), when there is one
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(20), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls not answered
    # raised by every change: a page that saw an older version gets a 409
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80), default="system")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str] = mapped_column(String(80), default="")

    debtor: Mapped[Debtor] = relationship()
    assignee: Mapped[AdminUser | None] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    entries: Mapped[list[WorkTaskEntry]] = relationship(
        back_populates="task", order_by="WorkTaskEntry.id", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.OPEN.value


class WorkTaskEntry(Base):
    """The outcome log of a task: made, events joined, taken, outcomes, notes."""

    __tablename__ = "work_task_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("work_task.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))  # created, event, assigned, outcome
    outcome: Mapped[str] = mapped_column(String(20), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    task: Mapped[WorkTask] = relationship(back_populates="entries")


class WorkTaskSource(Base):
    """An event that was turned into a task (or joined an open one): its key is the guard
    that makes each event count once, however often the scan sees it."""

    __tablename__ = "work_task_source"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_task.id", ondelete="SET NULL"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PhoneFlag(Base):
    """A phone number a clerk found wrong. It counts while the debtor still has that number:
    a new number clears it by itself."""

    __tablename__ = "phone_flag"

    debtor_id: Mapped[int] = mapped_column(
        ForeignKey("debtor.id", ondelete="CASCADE"), primary_key=True
    )
    phone: Mapped[str] = mapped_column(String(20))
    flagged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    flagged_by: Mapped[str] = mapped_column(String(80))
