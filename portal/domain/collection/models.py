"""Tables of the collection hand-over (issue 20): the queue, the segment rules, agencies,
hand-overs with their dossier, what we tell an agency, their reports and write-offs.

They live here, beside the code that uses them; `portal.models` imports this module so
that every table is on `Base.metadata` (Alembic, the tests)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.db import check_in as _in
from portal.domain.states import StateTable

if TYPE_CHECKING:  # mapped by name; importing them here would make an import cycle
    from portal.models import Debtor, Invoice, Segment


class EntryState(enum.StrEnum):
    """Where an invoice in the collection queue stands."""

    WAITING = "waiting"  # in the queue; goes automatically when its segment's rule says so
    STOPPED = "stopped"  # a person stopped it (or it came back): only by hand from here
    HANDED_OVER = "handed_over"  # with an agency
    LEFT = "left"  # paid, credited, cancelled or written off: no longer in the queue


E = EntryState
# An invoice's place in the queue; one that left comes back only by hand (`queue.enqueue`).
ENTRY_MOVES = StateTable(
    "queue entry",
    {
        E.WAITING: {E.STOPPED, E.HANDED_OVER, E.LEFT},
        E.STOPPED: {E.WAITING, E.HANDED_OVER, E.LEFT},
        E.HANDED_OVER: {E.STOPPED},  # back from the agency: only by hand from here
        E.LEFT: {E.WAITING},
    },
)

ENTRY_SOURCES = ("schedule", "hand", "returned")
RULE_MODES = ("manual", "auto")
DELIVERY_WAYS = ("download", "email", "push")


class HandoverState(enum.StrEnum):
    ACTIVE = "active"  # the agency handles the claim
    RECALLED = "recalled"  # we took it back (with a reason)
    RETURNED = "returned"  # the agency gave it back
    CLOSED = "closed"  # nothing left open: collected or written off


H = HandoverState
HANDOVER_MOVES = StateTable(
    "hand-over",
    {H.ACTIVE: {H.RECALLED, H.RETURNED, H.CLOSED}, H.RECALLED: (), H.RETURNED: (), H.CLOSED: ()},
)

REPORT_KINDS = ("collected", "costs", "write_off", "returned")


class CollectionRule(Base):
    """Per segment: hand over by hand only, or automatically after `after_days` in the
    queue to `agency_id` (unless a person stopped it). No rule: by hand only."""

    __tablename__ = "collection_rule"
    __table_args__ = (
        CheckConstraint(_in("mode", RULE_MODES), name="mode"),
        CheckConstraint("after_days BETWEEN 0 AND 365", name="after_days"),
        CheckConstraint("mode = 'manual' OR agency_id IS NOT NULL", name="auto_agency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segment.id", ondelete="CASCADE"), unique=True
    )
    mode: Mapped[str] = mapped_column(String(10), default="manual")
    after_days: Mapped[int] = mapped_column(Integer, default=14)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    segment: Mapped[Segment] = relationship()
    agency: Mapped[Agency | None] = relationship()


class Agency(Base):
    """A collection agency we hand claims to: who they are, how the dossier reaches them,
    their fee terms (for reference) and what the portal tells the debtor."""

    __tablename__ = "agency"
    __table_args__ = (CheckConstraint(_in("delivery", DELIVERY_WAYS), name="delivery"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(250), default="")
    delivery: Mapped[str] = mapped_column(String(10), default="download")
    endpoint_url: Mapped[str] = mapped_column(String(500), default="")
    # signs our pushes and their callbacks (HMAC-SHA256, the outgoing webhooks' format)
    secret: Mapped[str] = mapped_column(String(80))
    fee_terms: Mapped[str] = mapped_column(Text, default="")
    # after hand-over the debtor may still pay in the portal (the agency is told)
    portal_payments: Mapped[bool] = mapped_column(default=True, server_default=true())
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Handover(Base):
    """Some invoices of one debtor handed to an agency, with the dossier as it was then."""

    __tablename__ = "handover"
    __table_args__ = (
        CheckConstraint(_in("state", HandoverState), name="state"),
        Index("ix_handover_debtor_state", "debtor_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(10), default=HandoverState.ACTIVE.value)
    by: Mapped[str] = mapped_column(String(80))  # admin:<id> or system (the segment's rule)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    principal_cents: Mapped[int] = mapped_column(Integer, default=0)  # open when handed over
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str] = mapped_column(Text, default="")
    # the download link: signed (handover id, nonce); a new nonce ends the old link
    link_nonce: Mapped[str] = mapped_column(String(32), default="")
    link_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    downloads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dossier: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    dossier_sha256: Mapped[str] = mapped_column(String(64), default="")
    dossier_bytes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    costs_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    agency: Mapped[Agency] = relationship(lazy="joined", innerjoin=True)
    debtor: Mapped[Debtor] = relationship()
    invoices: Mapped[list[HandoverInvoice]] = relationship(
        back_populates="handover",
        cascade="all, delete-orphan",
        order_by="HandoverInvoice.invoice_id",
    )


class HandoverInvoice(Base):
    """An invoice (or a cost or interest line) of a hand-over, with what was open then."""

    __tablename__ = "handover_invoice"

    handover_id: Mapped[int] = mapped_column(
        ForeignKey("handover.id", ondelete="CASCADE"), primary_key=True
    )
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    open_cents: Mapped[int] = mapped_column(Integer)
    # still with the agency (False once recalled, returned, paid off or written off)
    current: Mapped[bool] = mapped_column(default=True, server_default=true())

    handover: Mapped[Handover] = relationship(back_populates="invoices")
    invoice: Mapped[Invoice] = relationship()


class CollectionEntry(Base):
    """An invoice in the collection queue: since when, how it got there, and what a person
    decided. One row per invoice; a recalled or returned claim comes back as stopped."""

    __tablename__ = "collection_entry"
    __table_args__ = (
        CheckConstraint(_in("state", EntryState), name="state"),
        CheckConstraint(_in("source", ENTRY_SOURCES), name="source"),
        Index("ix_collection_entry_state_debtor", "state", "debtor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), unique=True
    )
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(12), default=EntryState.WAITING.value)
    source: Mapped[str] = mapped_column(String(10), default="schedule")
    entered_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")  # why stopped, recalled, returned
    changed_by: Mapped[str] = mapped_column(String(80), default="system")
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    handover_id: Mapped[int | None] = mapped_column(ForeignKey("handover.id", ondelete="SET NULL"))

    invoice: Mapped[Invoice] = relationship()


class AgencyDelivery(Base):
    """Something we send an agency over HTTPS (a dossier push, a payment made in the
    portal): signed JSON, posted by the worker with the outgoing webhooks' back-off."""

    __tablename__ = "agency_delivery"
    __table_args__ = (
        CheckConstraint(_in("status", ("pending", "sending", "sent", "failed")), name="status"),
        Index("ix_agency_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    handover_id: Mapped[int | None] = mapped_column(
        ForeignKey("handover.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(40))  # dossier, payment
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class AgencyReport(Base):
    """A report an agency sent back (an uploaded xlsx/CSV or a signed callback)."""

    __tablename__ = "agency_report"
    __table_args__ = (CheckConstraint(_in("source", ("upload", "callback")), name="source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(200), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    by: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    already: Mapped[int] = mapped_column(Integer, default=0)  # booked by an earlier report
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)


class AgencyReportLine(Base):
    """One booked line of an agency's report. The unique (agency, key) is the guard that
    books a line once, however often the report arrives."""

    __tablename__ = "agency_report_line"
    __table_args__ = (
        UniqueConstraint("agency_id", "key"),
        CheckConstraint(_in("kind", REPORT_KINDS), name="kind"),
        CheckConstraint("amount_cents >= 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(ForeignKey("agency_report.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))
    handover_id: Mapped[int] = mapped_column(ForeignKey("handover.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column(Integer)
    booked_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id", ondelete="SET NULL"))
    booked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WriteOff(Base):
    """What cannot be collected, taken off an invoice with a reason: a credit note set off
    against it (the money path of credit notes), and an audit event."""

    __tablename__ = "write_off"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount"),
        CheckConstraint(_in("source", ("hand", "agency")), name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), index=True
    )
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10), default="hand")
    by: Mapped[str] = mapped_column(String(80))
    written_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    invoice: Mapped[Invoice] = relationship(foreign_keys=[invoice_id])
