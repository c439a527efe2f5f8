"""Typed SQLAlchemy 2 models. Money is integer cents; every schema change is a migration."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    false,
    or_,
    text,
    true,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from portal.db import Base, UTCDateTime, utcnow
from portal.db import check_in as _in


class DebtorKind(enum.StrEnum):
    B2C = "b2c"
    B2B = "b2b"


class InvoiceKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    COSTS = "costs"  # collection costs added after a 14-day letter's deadline passed
    INTEREST = "interest"  # statutory interest booked at the same moment


# what a debtor can pay; charges are paid first (art. 6:44 BW: costs, interest, principal)
PAYABLE_KINDS = (InvoiceKind.COSTS.value, InvoiceKind.INTEREST.value, InvoiceKind.INVOICE.value)
CHARGE_KINDS = (InvoiceKind.COSTS.value, InvoiceKind.INTEREST.value)


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"
    HANDED_OVER = "handed_over"


class PaymentStatus(enum.StrEnum):
    """Payment states (DESIGN.md section 9 spells them this way)."""

    CREATED = "created"
    OPEN = "open"
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    CHARGED_BACK = "charged_back"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    LOCAL = "local"  # kept in the local outbox: no SMTP_URL configured
    FAILED = "failed"
    DROPPED = "dropped"  # not sent: by send time there was nothing left to ask for
    # claimed, but its worker never said how it went (the lease ran out): a person decides
    DOUBT = "doubt"
    CANCELLED = "cancelled"  # a person decided it is not to be sent


LANGUAGES = ("nl", "en", "fr")
DEFAULT_METHODS = "ideal,bancontact,paypal,card"
FONTS = {
    "system": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
    "humanist": "Seravek, 'Gill Sans Nova', Ubuntu, Calibri, 'DejaVu Sans', sans-serif",
    "geometric": "Avenir, Montserrat, Corbel, 'URW Gothic', 'DejaVu Sans', sans-serif",
    "serif": "Charter, 'Bitstream Charter', 'Sitka Text', Cambria, Georgia, serif",
    "mono": "ui-monospace, 'Cascadia Code', Menlo, Consolas, 'DejaVu Sans Mono', monospace",
}


class Brand(Base):
    __tablename__ = "brand"
    __table_args__ = (
        CheckConstraint(_in("font", FONTS), name="font_safe"),
        CheckConstraint(_in("default_language", LANGUAGES), name="language"),
        CheckConstraint("default_debtor_kind IN ('b2c', 'b2b')", name="default_debtor_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    logo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    logo_mime: Mapped[str | None] = mapped_column(String(40))
    primary_color: Mapped[str] = mapped_column(String(7), default="#1d4ed8")
    accent_color: Mapped[str] = mapped_column(String(7), default="#f59e0b")
    font: Mapped[str] = mapped_column(String(20), default="system")
    sender_name: Mapped[str] = mapped_column(String(120), default="")
    sender_email: Mapped[str] = mapped_column(String(254), default="")
    support_email: Mapped[str] = mapped_column(String(254), default="")
    support_phone: Mapped[str] = mapped_column(String(40), default="")
    iban: Mapped[str] = mapped_column(String(34), default="")
    enterprise_number: Mapped[str] = mapped_column(String(20), default="")
    vat_number: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(250), default="")
    country: Mapped[str] = mapped_column(String(2), default="NL")
    default_language: Mapped[str] = mapped_column(String(2), default="nl")
    # the kind of a customer an import creates when the file does not say (DESIGN.md s. 10)
    default_debtor_kind: Mapped[str] = mapped_column(String(3), default="b2c", server_default="b2c")
    # methods the brand offers, in our names (ideal, bancontact, paypal, card), comma-separated
    payment_methods: Mapped[str] = mapped_column(
        String(100), default=DEFAULT_METHODS, server_default=DEFAULT_METHODS
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Segment(Base):
    __tablename__ = "segment"
    __table_args__ = (
        CheckConstraint("payment_term_days BETWEEN 0 AND 365", name="term"),
        CheckConstraint("partial_min_cents >= 100", name="partial_min"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    payment_term_days: Mapped[int] = mapped_column(Integer, default=14)
    allow_partial: Mapped[bool] = mapped_column(default=False, server_default=false())
    partial_min_cents: Mapped[int] = mapped_column(Integer, default=2500, server_default="2500")
    # None: the default schedule for the debtor's kind and country
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_schedule.id"))


class Debtor(Base):
    __tablename__ = "debtor"
    __table_args__ = (
        UniqueConstraint("brand_id", "number"),
        CheckConstraint(_in("kind", DebtorKind), name="kind"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"), index=True)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(3), default=DebtorKind.B2C.value)
    language: Mapped[str] = mapped_column(String(2), default="nl")
    phone: Mapped[str] = mapped_column(String(20), default="")
    address_line: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(12), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="NL")
    do_not_contact: Mapped[bool] = mapped_column(default=False, server_default=false())
    # the debtor changed contact details in the portal: imports never overwrite them
    contact_confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # the API key that created this customer: only that key may add to its contact data or
    # read its name; others add invoices at most (ApiKey.link_existing)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # erased on request (domain/personal_data.py): personal data gone, the bookkeeping kept
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    brand: Mapped[Brand] = relationship(lazy="joined", innerjoin=True)
    segment: Mapped[Segment | None] = relationship()
    emails: Mapped[list[DebtorEmail]] = relationship(
        back_populates="debtor", cascade="all, delete-orphan", order_by="DebtorEmail.id"
    )

    @property
    def primary_email(self) -> str:
        return self.emails[0].email if self.emails else ""


class DebtorEmail(Base):
    """An address that may log in for a debtor; one address may serve several debtors."""

    __tablename__ = "debtor_email"
    __table_args__ = (UniqueConstraint("debtor_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254), index=True)  # stored lower-cased
    bouncing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    bounce_reason: Mapped[str] = mapped_column(String(250), default="", server_default="")
    # a portal session opened with this address on this account carries the version it
    # began with; logout, sign-out-everywhere and email changes raise it (debtor_session)
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    debtor: Mapped[Debtor] = relationship(back_populates="emails")


class Invoice(Base):
    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("brand_id", "number"),
        CheckConstraint(_in("kind", InvoiceKind), name="kind"),
        CheckConstraint(_in("status", InvoiceStatus), name="status"),
        CheckConstraint(
            "(kind IN ('invoice', 'costs', 'interest') AND total_cents > 0 AND open_cents >= 0"
            " AND open_cents <= total_cents)"
            " OR (kind = 'credit_note' AND total_cents < 0 AND open_cents <= 0"
            " AND open_cents >= total_cents)",
            name="money",
        ),
        CheckConstraint("due_date >= invoice_date", name="due_after_invoice"),
        CheckConstraint("length(currency) = 3", name="currency"),
        Index("ix_invoice_debtor_status_due", "debtor_id", "status", "due_date"),
        # what is owed, by due date: insight's drill-downs page through it (issue 19)
        Index(
            "ix_invoice_owed_due",
            "due_date",
            "id",
            postgresql_where=text("status IN ('open', 'handed_over')"),
            sqlite_where=text("status IN ('open', 'handed_over')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"))
    number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(12), default=InvoiceKind.INVOICE.value)
    invoice_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    total_cents: Mapped[int] = mapped_column(Integer)
    open_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=InvoiceStatus.OPEN.value)
    reference: Mapped[str] = mapped_column(String(80), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # reminders wait while held (dispute, plan, promise, paused by hand): until the date, or
    # for as long as the reason is set without a date
    hold_reason: Mapped[str] = mapped_column(String(40), default="", server_default="")
    hold_until: Mapped[dt.date | None] = mapped_column(Date)
    original_pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    has_original_pdf: Mapped[bool] = mapped_column(default=False)
    # a cost or interest line: the claim it belongs to (art. 6:44 BW settles it first)
    claim_id: Mapped[int | None] = mapped_column(
        ForeignKey("claim.id", ondelete="SET NULL"), index=True
    )
    # the open amount the accounting package last reported, where the portal applied the
    # difference to costs and interest first (so a re-import does not apply it twice)
    import_open_cents: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    brand: Mapped[Brand] = relationship()
    debtor: Mapped[Debtor] = relationship()

    @property
    def paid_cents(self) -> int:
        return self.total_cents - self.open_cents

    @property
    def payable(self) -> bool:
        """Open money the debtor can pay now (not a credit note, not settled; handed over
        only to an agency that lets the debtor still pay in the portal)."""
        if self.kind not in PAYABLE_KINDS or self.open_cents <= 0:
            return False
        if self.status == InvoiceStatus.HANDED_OVER.value:
            from portal.domain.collection import handover

            return handover.portal_may_pay(self)
        return self.status == InvoiceStatus.OPEN.value

    @hybrid_method
    def held_on(self, day: dt.date) -> bool:
        """Reminders wait: until `hold_until`, or while a reason is set without a date."""
        if self.hold_until is not None:
            return self.hold_until >= day
        return bool(self.hold_reason)

    @held_on.inplace.expression  # type: ignore[attr-defined]
    @classmethod
    def _held_on_expression(cls, day: dt.date) -> ColumnElement[bool]:
        return or_(
            and_(cls.hold_until.is_not(None), cls.hold_until >= day),
            and_(cls.hold_until.is_(None), cls.hold_reason != ""),
        )


class AdminRole(enum.StrEnum):
    ADMIN = "admin"  # everything
    CLERK = "clerk"  # no users, no brand or template settings


class AdminUser(Base):
    """A person who runs the portal for the creditor. Debtors never have passwords."""

    __tablename__ = "admin_user"
    __table_args__ = (
        CheckConstraint(_in("role", AdminRole), name="role"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10), default=AdminRole.CLERK.value)
    active: Mapped[bool] = mapped_column(default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # the secret shown while an authenticator app is being enrolled (kept here, not in the
    # browser's cookie), and the time step of the last code used (a code works once)
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # the weekly insight summary by mail, in this language (insight, issue 19)
    weekly_summary: Mapped[bool] = mapped_column(default=False, server_default=false())
    language: Mapped[str] = mapped_column(String(2), default="nl", server_default="nl")

    @property
    def is_admin(self) -> bool:
        return self.role == AdminRole.ADMIN


class AdminResetToken(Base):
    """A password-reset link for an admin: stored hashed, single use, short-lived."""

    __tablename__ = "admin_reset_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LoginToken(Base):
    """A magic-link token: only its SHA-256 is stored; single use, short-lived."""

    __tablename__ = "login_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    requested_ip: Mapped[str] = mapped_column(String(45), default="")


class AuditEvent(Base):
    """Who did what when: the timeline of debtors and invoices, and the admin audit log."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_debtor_at", "debtor_id", "at"),
        Index("ix_audit_event_invoice_at", "invoice_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))  # "system", "debtor:12", "admin:3"
    action: Mapped[str] = mapped_column(String(60))
    debtor_id: Mapped[int | None] = mapped_column(ForeignKey("debtor.id", ondelete="SET NULL"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxMessage(Base):
    """A message written in the business transaction and sent after commit by the worker."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint(_in("channel", ("email", "sms", "letter")), name="channel"),
        CheckConstraint(_in("status", OutboxStatus), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        # the worker's claim: the oldest due message of a channel, read in index order
        Index("ix_outbox_message_due", "channel", "status", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), default="email")
    kind: Mapped[str] = mapped_column(String(40))  # login_link, reminder, receipt, ...
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(250), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    sender: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    debtor_id: Mapped[int | None] = mapped_column(ForeignKey("debtor.id", ondelete="SET NULL"))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brand.id", ondelete="SET NULL"))
    # written when sent (subject and bodies empty until then): what to render, with what
    render_key: Mapped[str | None] = mapped_column(String(40))
    render_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # the last attempt began then; while 'sending' this is the lease: once outbox.LEASE
    # has passed without a result, the message is in doubt
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # temporary failures are retried for OUTBOX_RETRY_HOURS from the first attempt
    first_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class InterestRate(Base):
    """The statutory interest rate of a half-year (NL: consumer 6:119, commercial 6:119a BW;
    BE: commercial, law of 2 August 2002)."""

    __tablename__ = "interest_rate"
    __table_args__ = (
        UniqueConstraint("kind", "valid_from"),
        CheckConstraint(_in("kind", ("consumer", "commercial", "be_commercial")), name="kind"),
        CheckConstraint("basis_points BETWEEN 0 AND 5000", name="basis_points"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[dt.date] = mapped_column(Date)  # 1 January or 1 July
    basis_points: Mapped[int] = mapped_column(Integer)  # 7% = 700
    created_by: Mapped[str] = mapped_column(String(80), default="")


class PrintBatch(Base):
    """Letters printed together: one PDF with a page (or more) per letter."""

    __tablename__ = "print_batch"
    __table_args__ = (CheckConstraint("count >= 0", name="count"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80), default="")
    printed_on: Mapped[dt.date] = mapped_column(Date)  # the deadlines in it run from this day
    count: Mapped[int] = mapped_column(Integer, default=0)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))


class PrintedLetter(Base):
    """A letter (an outbox row with channel `letter`) and the print batch that printed it;
    letters are never sent by the worker."""

    __tablename__ = "printed_letter"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="CASCADE"), primary_key=True
    )
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("print_batch.id", ondelete="CASCADE"), index=True
    )


class MessageTemplate(Base):
    """One saved version of a brand's message text; the highest version is in use."""

    __tablename__ = "message_template"
    __table_args__ = (
        UniqueConstraint("brand_id", "key", "language", "version"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))  # a step kind or a system mail
    language: Mapped[str] = mapped_column(String(2))
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(250))
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TemplatePreview(Base):
    """A rendered preview of an unsaved template, fetched once by the editor's frame."""

    __tablename__ = "template_preview"

    token: Mapped[str] = mapped_column(String(43), primary_key=True)
    admin_user_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"))
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class RunPreview(Base):
    """What a day's dunning run would send, as counted by the worker for the dashboard
    (counting takes seconds on a million invoices, too long for each page view)."""

    __tablename__ = "run_preview"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    by_kind: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    by_channel: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImportBatch(Base):
    """One committed upload; its hash lets a second upload of the same file be refused."""

    __tablename__ = "import_batch"
    __table_args__ = (
        CheckConstraint(_in("mode", ("full", "open_items")), name="mode"),
        Index("ix_import_batch_brand_hash", "brand_id", "file_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    file_hash: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(12), default="full")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(80), default="")
    committed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImportProfile(Base):
    """A named column mapping of one brand, reused for the next export of the same shape."""

    __tablename__ = "import_profile"
    __table_args__ = (UniqueConstraint("brand_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field -> header text
    last_used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImportJob(Base):
    """A large import committed in the background; the admin can leave and come back."""

    __tablename__ = "import_job"
    __table_args__ = (
        CheckConstraint(_in("status", ("queued", "running", "done", "failed")), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    file_hash: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255), default="")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # mode, mapping, force
    status: Mapped[str] = mapped_column(String(10), default="queued")
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # written every few seconds while it runs; a stale one means its worker died
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class WorkerHeartbeat(Base):
    """The last moment a worker process ran its periodic schedule (one row per process)."""

    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)  # host:pid
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JobRun(Base):
    """One run of a long job of the worker (the morning's dunning run): when it started,
    its heartbeat while it runs, and how it ended."""

    __tablename__ = "job_run"
    __table_args__ = (
        CheckConstraint(_in("status", ("running", "done", "failed")), name="status"),
        Index("ix_job_run_kind_started", "kind", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    day: Mapped[dt.date | None] = mapped_column(Date)  # the business day it ran for
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Payment(Base):
    """One attempt with a provider to pay one or more invoices of one debtor."""

    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        # the pay form's one-time token: a second submit of the same form finds this payment
        UniqueConstraint("debtor_id", "submit_token"),
        CheckConstraint(_in("status", PaymentStatus), name="status"),
        CheckConstraint("amount_cents > 0", name="amount"),
        CheckConstraint(
            "received_cents >= 0 AND refunded_cents >= 0 AND charged_back_cents >= 0"
            " AND unallocated_cents >= 0",
            name="cents",
        ),
        CheckConstraint("length(currency) = 3", name="currency"),
        Index("ix_payment_debtor_created", "debtor_id", "created_at"),
        Index("ix_payment_failed_at", "failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # in return URLs
    # what people read aloud and receipts print: BP-2026-000123 (payments/receipts.py)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"))
    pay_link_id: Mapped[int | None] = mapped_column(ForeignKey("pay_link.id"))
    instalment_id: Mapped[int | None] = mapped_column(  # paying one instalment of a plan
        ForeignKey("instalment.id", ondelete="SET NULL")
    )
    provider: Mapped[str] = mapped_column(String(20))
    provider_ref: Mapped[str | None] = mapped_column(String(120))
    method: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(14), default=PaymentStatus.CREATED.value)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    description: Mapped[str] = mapped_column(String(250), default="")
    checkout_url: Mapped[str] = mapped_column(Text, default="")
    test_mode: Mapped[bool] = mapped_column(default=False)
    received_cents: Mapped[int] = mapped_column(Integer, default=0)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    charged_back_cents: Mapped[int] = mapped_column(Integer, default=0)
    unallocated_cents: Mapped[int] = mapped_column(Integer, default=0)  # the debtor's credit
    flag: Mapped[str] = mapped_column(String(250), default="")  # for an admin to look at
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    second_chance_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    submit_token: Mapped[str | None] = mapped_column(String(43))

    debtor: Mapped[Debtor] = relationship()
    brand: Mapped[Brand] = relationship()
    invoices: Mapped[list[Invoice]] = relationship(
        secondary="payment_invoice", order_by="Invoice.due_date, Invoice.id"
    )
    instalment: Mapped[Instalment | None] = relationship()
    allocations: Mapped[list[Allocation]] = relationship(
        back_populates="payment", order_by="Allocation.id"
    )


class PaymentInvoice(Base):
    """The invoices a payment was started for (what the debtor chose)."""

    __tablename__ = "payment_invoice"

    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payment.id", ondelete="CASCADE"), primary_key=True
    )
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), primary_key=True, index=True)


class Allocation(Base):
    """The part of a paid payment booked on one invoice; created once, when it becomes paid."""

    __tablename__ = "allocation"
    __table_args__ = (
        UniqueConstraint("payment_id", "invoice_id"),
        CheckConstraint("amount_cents > 0", name="amount"),
        CheckConstraint("reversed_cents BETWEEN 0 AND amount_cents", name="reversed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    reversed_cents: Mapped[int] = mapped_column(Integer, default=0)  # refund or chargeback
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    invoice: Mapped[Invoice] = relationship()


class PayLink(Base):
    """A link that opens the payment of specific invoices without a full login."""

    __tablename__ = "pay_link"
    __table_args__ = (CheckConstraint(_in("status", ("active", "revoked")), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32))  # signed together with the id in the URL
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active")
    purpose: Mapped[str] = mapped_column(String(30), default="manual")  # second_chance, ...
    instalment_id: Mapped[int | None] = mapped_column(  # pays this instalment, not the total
        ForeignKey("instalment.id", ondelete="CASCADE")
    )
    created_by: Mapped[str] = mapped_column(String(80), default="system")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    debtor: Mapped[Debtor] = relationship()
    brand: Mapped[Brand] = relationship()
    invoices: Mapped[list[Invoice]] = relationship(
        secondary="pay_link_invoice", order_by="Invoice.due_date, Invoice.id"
    )
    instalment: Mapped[Instalment | None] = relationship()


class PayLinkInvoice(Base):
    __tablename__ = "pay_link_invoice"

    pay_link_id: Mapped[int] = mapped_column(
        ForeignKey("pay_link.id", ondelete="CASCADE"), primary_key=True
    )
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), primary_key=True, index=True)


class WebhookDelivery(Base):
    """Every incoming provider webhook, with what we made of it."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_payment", "payment_id", "received_at"),
        # /metrics: the deliveries still queued and the oldest of them
        Index("ix_webhook_delivery_outcome", "outcome", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_ref: Mapped[str] = mapped_column(String(120), default="")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(20))  # queued, applied, unchanged, forged, ...
    detail: Mapped[str] = mapped_column(Text, default="")
    remote_addr: Mapped[str] = mapped_column(String(45), default="")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PaymentNumber(Base):
    """The last payment number handed out per year: one row a year, raised by one
    UPDATE ... RETURNING, so concurrent payments never get the same number."""

    __tablename__ = "payment_number"
    __table_args__ = (CheckConstraint("last >= 0", name="last"),)

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class SandboxPayment(Base):
    """The sandbox provider's own record: what a real provider would keep on its side."""

    __tablename__ = "sandbox_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(250), default="")
    methods: Mapped[str] = mapped_column(String(100), default="")
    method: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(14), default="open")
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    charged_back_cents: Mapped[int] = mapped_column(Integer, default=0)
    return_url: Mapped[str] = mapped_column(Text)
    webhook_url: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str] = mapped_column(String(10), default="nl_NL")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# "call": the team phones the debtor (a task in the work queue), no message is sent
STEP_KINDS = ("nudge", "reminder", "call", "notice", "fourteen_day", "collection")
FEE_RULES = ("none", "wik", "be_b2c")
CHANNELS = ("email", "sms", "letter")
# every non-empty choice of channels, written in the order of CHANNELS ("email,letter")
CHANNEL_SETS = tuple(
    ",".join(c for n, c in enumerate(CHANNELS) if mask & (1 << n))
    for mask in range(1, 2 ** len(CHANNELS))
)


class ReminderSchedule(Base):
    """Ordered reminder steps; a segment points at one, or the default for the debtor's
    kind (b2c/b2b) and country applies."""

    __tablename__ = "reminder_schedule"
    __table_args__ = (
        CheckConstraint("default_for IS NULL OR " + _in("default_for", DebtorKind), name="kind"),
        CheckConstraint("min_gap_days BETWEEN 0 AND 90", name="gap"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    default_for: Mapped[str | None] = mapped_column(String(3))
    default_country: Mapped[str | None] = mapped_column(String(2))
    min_gap_days: Mapped[int] = mapped_column(Integer, default=7)
    # SMS only between 09:00 and 20:00 Europe/Amsterdam (sms.DAYTIME)
    sms_daytime_only: Mapped[bool] = mapped_column(default=True, server_default=true())
    # no steps on Saturday or Sunday: what falls due then goes out on Monday
    business_days_only: Mapped[bool] = mapped_column(default=False, server_default=false())

    steps: Mapped[list[ReminderStep]] = relationship(
        back_populates="schedule", order_by="ReminderStep.position", cascade="all, delete-orphan"
    )


class ReminderStep(Base):
    """One step: days from the due date (negative: before), what kind of message, costs."""

    __tablename__ = "reminder_step"
    __table_args__ = (
        UniqueConstraint("schedule_id", "position"),
        CheckConstraint(_in("kind", STEP_KINDS), name="kind"),
        CheckConstraint(_in("fee_rule", FEE_RULES), name="fee_rule"),
        CheckConstraint("offset_days BETWEEN -60 AND 365", name="offset"),
        CheckConstraint("min_open_cents >= 0", name="min_open"),
        CheckConstraint(_in("channels", CHANNEL_SETS), name="channels"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("reminder_schedule.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    offset_days: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    fee_rule: Mapped[str] = mapped_column(String(10), default="none")
    min_open_cents: Mapped[int] = mapped_column(Integer, default=0)
    # how the step goes out: "email", "sms", "letter" or several, comma-separated
    channels: Mapped[str] = mapped_column(String(20), default="email", server_default="email")

    schedule: Mapped[ReminderSchedule] = relationship(back_populates="steps")

    @property
    def channel_list(self) -> tuple[str, ...]:
        """The step's channels, in the order of CHANNELS."""
        chosen = set((self.channels or "email").split(","))
        return tuple(c for c in CHANNELS if c in chosen)


def channels_value(chosen: set[str] | list[str] | tuple[str, ...]) -> str:
    """The `channels` column for a choice; raises ValueError when none or an unknown one."""
    if not chosen or not set(chosen) <= set(CHANNELS):
        raise ValueError(f"choose channels from {CHANNELS}, at least one")
    return ",".join(c for c in CHANNELS if c in chosen)


class InvoiceReminder(Base):
    """A step done for an invoice: the unique (invoice, step) guard against sending twice."""

    __tablename__ = "invoice_reminder"
    __table_args__ = (
        UniqueConstraint("invoice_id", "step_id"),
        Index("ix_invoice_reminder_invoice_sent", "invoice_id", "sent_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("reminder_step.id"))
    sent_on: Mapped[dt.date] = mapped_column(Date)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="SET NULL")
    )


REGIMES = ("nl_b2c", "be_b2c", "nl_b2b", "be_b2b")


class Claim(Base):
    """What a step that announced costs told a debtor about some invoices, and what has
    been booked for it since (`dunning/charges.py`; the rules are `dunning/terms.py`).

    `lead_message_id` is the message the step's (invoice, step) records point at; the
    step's other channels and any resend by post are in `claim_message`."""

    __tablename__ = "claim"
    __table_args__ = (
        CheckConstraint(_in("regime", REGIMES), name="regime"),
        CheckConstraint("interest_lines >= 0", name="interest_lines"),
        Index("ix_claim_open", "closed", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id"))
    step_id: Mapped[int] = mapped_column(ForeignKey("reminder_step.id"))
    lead_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="SET NULL"), unique=True
    )
    regime: Mapped[str] = mapped_column(String(6))
    opened_on: Mapped[dt.date] = mapped_column(Date)
    costs_booked_on: Mapped[dt.date | None] = mapped_column(Date)
    interest_until: Mapped[dt.date | None] = mapped_column(Date)  # booked through this day
    interest_lines: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # interest waits for the rate of this half-year (kind:YYYY-MM-DD), shown on the dashboard
    waiting_for_rate: Mapped[str] = mapped_column(String(30), default="", server_default="")
    # no message of the step reached the debtor (bounced, refused): shown to admin
    undelivered: Mapped[bool] = mapped_column(default=False, server_default=false())
    closed: Mapped[bool] = mapped_column(default=False, server_default=false())

    debtor: Mapped[Debtor] = relationship()
    step: Mapped[ReminderStep] = relationship()

    @property
    def waiting_half_year(self) -> dt.date | None:
        """The half-year whose missing rate holds the interest back, or None."""
        if not self.waiting_for_rate:
            return None
        return dt.date.fromisoformat(self.waiting_for_rate.partition(":")[2])


class ClaimInvoice(Base):
    """An invoice (the principal) of a claim."""

    __tablename__ = "claim_invoice"

    claim_id: Mapped[int] = mapped_column(
        ForeignKey("claim.id", ondelete="CASCADE"), primary_key=True
    )
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ClaimMessage(Base):
    """A message that told the debtor the claim's deadline: every channel of the step,
    and a letter an admin sent after the email bounced."""

    __tablename__ = "claim_message"

    claim_id: Mapped[int] = mapped_column(
        ForeignKey("claim.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PaymentReference(Base):
    """A structured reference for a bank transfer of some invoices (one payment request):
    RF (ISO 11649) for a Dutch brand, the Belgian structured communication for a Belgian
    one; its digits are made from the id (`payments/references.py`)."""

    __tablename__ = "payment_reference"
    __table_args__ = (UniqueConstraint("brand_id", "invoice_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"))
    invoice_key: Mapped[str] = mapped_column(String(64))  # sha256 of the sorted invoice ids
    invoice_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RequestKind(enum.StrEnum):
    """What a debtor asks."""

    DISPUTE = "dispute"
    PROMISE = "promise"
    QUESTION = "question"
    CONTACT_CHANGE = "contact_change"
    PLAN = "plan"  # a payment plan outside the policy, for a person to look at


class RequestState(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"  # replied to; the case may still change
    RESOLVED = "resolved"  # done as asked (credit, cancelled, contact changed, promise kept)
    REJECTED = "rejected"  # done, not as asked (a dispute upheld)


DISPUTE_REASONS = ("amount_wrong", "not_received", "already_paid", "quality", "other")


class DebtorRequest(Base):
    """A debtor's dispute, promise to pay, question or contact change, and where it stands;
    `domain/requests.py` holds its state table."""

    __tablename__ = "debtor_request"
    __table_args__ = (
        CheckConstraint(_in("kind", RequestKind), name="kind"),
        CheckConstraint(_in("state", RequestState), name="state"),
        CheckConstraint("reason = '' OR " + _in("reason", DISPUTE_REASONS), name="reason"),
        CheckConstraint(
            "kind NOT IN ('dispute', 'promise') OR invoice_id IS NOT NULL", name="invoice"
        ),
        CheckConstraint("kind != 'promise' OR promise_date IS NOT NULL", name="promise_date"),
        Index("ix_debtor_request_state_created", "state", "created_at"),
        Index("ix_debtor_request_debtor_created", "debtor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10), default=RequestState.OPEN.value)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoice.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(20), default="")  # a dispute's reason
    message: Mapped[str] = mapped_column(Text, default="")
    promise_date: Mapped[dt.date | None] = mapped_column(Date)
    # a contact change: the new values asked for ({"email": ..., "phone": ...})
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(20), default="")  # credit, cancel, uphold, ...
    # a dispute or promise that paused the invoice's reminders by itself; False once the
    # debtor has used the pauses they may take alone (it then waits for an admin)
    paused_itself: Mapped[bool] = mapped_column(default=False, server_default=false())
    assigned_admin_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    debtor: Mapped[Debtor] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    assigned_admin: Mapped[AdminUser | None] = relationship()
    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", order_by="RequestEvent.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[RequestAttachment]] = relationship(
        back_populates="request", order_by="RequestAttachment.id", cascade="all, delete-orphan"
    )

    @property
    def closed(self) -> bool:
        return self.state in (RequestState.RESOLVED.value, RequestState.REJECTED.value)

    @property
    def awaits_pause_decision(self) -> bool:
        """An open dispute or promise that did not pause reminders: an admin decides."""
        return (
            self.kind in (RequestKind.DISPUTE.value, RequestKind.PROMISE.value)
            and not self.paused_itself
            and not self.closed
        )


class RequestEvent(Base):
    """The trail of a request: created, assigned, replied, state changes, with the text the
    debtor was sent."""

    __tablename__ = "request_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("debtor_request.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))  # "debtor:12", "admin:3", "system"
    action: Mapped[str] = mapped_column(String(20))  # created, assigned, reply, state
    state: Mapped[str] = mapped_column(String(10), default="")  # the state it moved to
    message: Mapped[str] = mapped_column(Text, default="")  # shown to the debtor when set
    public: Mapped[bool] = mapped_column(default=True, server_default=true())

    request: Mapped[DebtorRequest] = relationship(back_populates="events")


class RequestAttachment(Base):
    """A file a debtor added to a request (PDF, JPEG or PNG, judged by its content);
    only admins download it."""

    __tablename__ = "request_attachment"
    __table_args__ = (
        CheckConstraint(_in("mime", ("application/pdf", "image/jpeg", "image/png")), name="mime"),
        CheckConstraint("size > 0", name="size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("debtor_request.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(120))
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    request: Mapped[DebtorRequest] = relationship(back_populates="attachments")


class EmailChangeToken(Base):
    """The link that confirms a new email address: only its SHA-256 is stored; single use."""

    __tablename__ = "email_change_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("debtor_request.id", ondelete="CASCADE"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """A brand's key for the REST API: only the SHA-256 of the token is stored."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(20))  # "bp_test_AbCd": shown to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # test keys pay through the sandbox and make test records, kept out of dunning
    test_mode: Mapped[bool] = mapped_column(default=False, server_default=false())
    # granted by a full admin: the key may add invoices to customers it did not create
    link_existing: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    brand: Mapped[Brand] = relationship()


class ApiPayLink(Base):
    """A pay-link made over the API: the key that made it, its mode and the shop's URL."""

    __tablename__ = "api_pay_link"
    __table_args__ = (Index("ix_api_pay_link_listing", "brand_id", "test_mode", "pay_link_id"),)

    pay_link_id: Mapped[int] = mapped_column(
        ForeignKey("pay_link.id", ondelete="CASCADE"), primary_key=True
    )
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    test_mode: Mapped[bool] = mapped_column(default=False, server_default=false())
    reminders: Mapped[bool] = mapped_column(default=True, server_default=true())
    return_url: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    pay_link: Mapped[PayLink] = relationship()


class ApiIdempotency(Base):
    """An `Idempotency-Key` seen on a create: the request's hash and, once done, the answer.

    A row without `status_code` is a first request still running (a repeat gets 409)."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class WebhookEndpoint(Base):
    """Where a brand wants its outgoing webhooks (events of pay-links made over the API).

    The secret signs each delivery (HMAC-SHA256), so it is kept as it is; admin shows it once.
    """

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"), unique=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    brand: Mapped[Brand] = relationship()


class WebhookEvent(Base):
    """One outgoing webhook: written in the business transaction, delivered by the worker
    with exponential back-off for up to a day."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        CheckConstraint(_in("status", ("pending", "sending", "sent", "failed")), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_webhook_event_due", "status", "next_attempt_at", "id"),
        Index("ix_webhook_event_brand", "brand_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))  # payment.paid, payment.failed, ...
    payload: Mapped[str] = mapped_column(Text)  # the JSON body, exactly as sent
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(250), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    brand: Mapped[Brand] = relationship()


class BrandFrameOrigin(Base):
    """A site that may show the brand's pay page in a frame (CSP frame-ancestors)."""

    __tablename__ = "brand_frame_origin"
    __table_args__ = (UniqueConstraint("brand_id", "origin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(200))  # scheme://host[:port], nothing else


class PlanPolicy(Base):
    """What a debtor of a segment may arrange as a payment plan without review; a segment
    without a row gets `plans.schedules.DEFAULT_POLICY`."""

    __tablename__ = "plan_policy"
    __table_args__ = (
        CheckConstraint("min_total_cents >= 0", name="min_total"),
        CheckConstraint("max_instalments BETWEEN 1 AND 120", name="max_instalments"),
        CheckConstraint("min_instalment_cents >= 1", name="min_instalment"),
        CheckConstraint("max_days BETWEEN 0 AND 3650", name="max_days"),
        CheckConstraint("down_payment_pct BETWEEN 0 AND 90", name="down_payment"),
        CheckConstraint("breach_days BETWEEN 1 AND 90", name="breach_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segment.id", ondelete="CASCADE"), unique=True
    )
    min_total_cents: Mapped[int] = mapped_column(Integer, default=10_000)
    max_instalments: Mapped[int] = mapped_column(Integer, default=6)
    min_instalment_cents: Mapped[int] = mapped_column(Integer, default=2_500)
    max_days: Mapped[int] = mapped_column(Integer, default=180)
    auto_approve: Mapped[bool] = mapped_column(default=True, server_default=true())
    # the first instalment is at least this share of the total (0: no down payment)
    down_payment_pct: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    frequencies: Mapped[str] = mapped_column(  # the ones a debtor may choose, comma-separated
        String(20), default="monthly,biweekly", server_default="monthly,biweekly"
    )
    breach_days: Mapped[int] = mapped_column(  # an instalment this late ends the plan
        Integer, default=14, server_default="14"
    )


class PlanStatus(enum.StrEnum):
    PROPOSED = "proposed"  # by an admin; the debtor has not agreed yet
    ACTIVE = "active"
    COMPLETED = "completed"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class InstalmentPlan(Base):
    """A payment plan a debtor agreed to: its invoices, instalments and the agreement
    (text, moment and address) as accepted."""

    __tablename__ = "instalment_plan"
    __table_args__ = (
        CheckConstraint(_in("status", PlanStatus), name="status"),
        CheckConstraint("frequency IN ('monthly', 'biweekly')", name="frequency"),
        CheckConstraint("total_cents > 0", name="total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtor.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=PlanStatus.ACTIVE.value)
    frequency: Mapped[str] = mapped_column(String(10))
    total_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    agreement_text: Mapped[str] = mapped_column(Text, default="")
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # when agreed
    accepted_ip: Mapped[str] = mapped_column(String(45), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    proposed_by: Mapped[str] = mapped_column(String(80), default="", server_default="")
    request_id: Mapped[int | None] = mapped_column(  # the review request it answers
        ForeignKey("debtor_request.id", ondelete="SET NULL")
    )
    replaces_id: Mapped[int | None] = mapped_column(  # a changed plan replaces the old one
        ForeignKey("instalment_plan.id", ondelete="SET NULL")
    )
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str] = mapped_column(String(250), default="", server_default="")
    # the policy's breach days when agreed: a later policy change does not move the goalposts
    breach_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")

    debtor: Mapped[Debtor] = relationship()
    instalments: Mapped[list[Instalment]] = relationship(
        back_populates="plan", order_by="Instalment.seq", cascade="all, delete-orphan"
    )
    invoices: Mapped[list[PlanInvoice]] = relationship(
        back_populates="plan", order_by="PlanInvoice.invoice_id", cascade="all, delete-orphan"
    )


class PlanInvoice(Base):
    """An invoice in a plan, with the amount open when the plan was agreed."""

    __tablename__ = "plan_invoice"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("instalment_plan.id", ondelete="CASCADE"), primary_key=True
    )
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    open_cents: Mapped[int] = mapped_column(Integer)

    plan: Mapped[InstalmentPlan] = relationship(back_populates="invoices")
    invoice: Mapped[Invoice] = relationship()


class Instalment(Base):
    """One instalment of a plan: when it is due and how much."""

    __tablename__ = "instalment"
    __table_args__ = (
        UniqueConstraint("plan_id", "seq"),
        CheckConstraint("cents > 0", name="cents"),
        CheckConstraint("paid_cents >= 0", name="paid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("instalment_plan.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, ...
    due_date: Mapped[dt.date] = mapped_column(Date)
    cents: Mapped[int] = mapped_column(Integer)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    plan: Mapped[InstalmentPlan] = relationship(back_populates="instalments")

    @property
    def open_cents(self) -> int:
        """What is still to pay of this instalment."""
        return max(self.cents - self.paid_cents, 0)


# ------------------------------------------------------------------- insight (issue 19)
# The worker prepares these every night (domain/insight/refresh.py); pages only read them.
SETTLED_HOW = ("paid", "credit", "unknown")
GRADES = ("good", "average", "poor")


class InvoiceSettlement(Base):
    """The day an invoice's open amount reached zero, as the insight worker read it from the
    invoice's history: its last payment or import (`paid`), a credit note (`credit`), or no
    day known because it arrived already paid (`unknown`, left out of insight)."""

    __tablename__ = "invoice_settlement"
    __table_args__ = (CheckConstraint(_in("how", SETTLED_HOW), name="how"),)

    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), primary_key=True
    )
    paid_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    how: Mapped[str] = mapped_column(String(8))


class InvoicePrediction(Base):
    """When an open invoice is expected to be paid (None: not within a year) and the chance
    that it is paid after its due date."""

    __tablename__ = "invoice_prediction"
    __table_args__ = (CheckConstraint("late_pct BETWEEN 0 AND 100", name="late_pct"),)

    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), primary_key=True
    )
    predicted_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    late_pct: Mapped[int] = mapped_column(Integer)


class DebtorRating(Base):
    """A debtor's payer rating from its own history: a score 0-100, its grade and the
    factors that cost the most points ([key, points, value], heaviest first)."""

    __tablename__ = "debtor_rating"
    __table_args__ = (
        CheckConstraint("score BETWEEN 0 AND 100", name="score"),
        CheckConstraint(_in("grade", GRADES), name="grade"),
        Index("ix_debtor_rating_grade", "grade", "debtor_id"),
    )

    debtor_id: Mapped[int] = mapped_column(
        ForeignKey("debtor.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str] = mapped_column(String(8))
    factors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    basis: Mapped[int] = mapped_column(Integer)  # the invoices it rests on
    days_late: Mapped[int] = mapped_column(Integer)  # on average, weighted by amount
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DebtorAgeing(Base):
    """What a debtor owes by age: `buckets` holds [count, cents] for not due, 1-30, 31-60,
    61-90 and over 90 days overdue."""

    __tablename__ = "debtor_ageing"
    __table_args__ = (Index("ix_debtor_ageing_overdue", "overdue_cents", "debtor_id"),)

    debtor_id: Mapped[int] = mapped_column(
        ForeignKey("debtor.id", ondelete="CASCADE"), primary_key=True
    )
    brand_id: Mapped[int] = mapped_column(Integer)
    segment_id: Mapped[int | None] = mapped_column(Integer)
    open_cents: Mapped[int] = mapped_column(BigInteger)
    overdue_cents: Mapped[int] = mapped_column(BigInteger)
    buckets: Mapped[list[Any]] = mapped_column(JSON, default=list)


class InsightFigures(Base):
    """One prepared document of figures (DSO, ageing, forecast, backtest, summary), read by
    the pages as the dashboard reads `run_preview`."""

    __tablename__ = "insight_figures"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ForecastSnapshot(Base):
    """The cash forecast as made on a day, kept to set it beside what came in; weeks before
    the worker ran are reconstructed from what was known then (`reconstructed`)."""

    __tablename__ = "forecast_snapshot"

    made_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    week_start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    expected_cents: Mapped[int] = mapped_column(BigInteger)
    reconstructed: Mapped[bool] = mapped_column(default=False, server_default=false())


class RatingRule(Base):
    """A segment rule: debtors rated `grade` (in `from_segment`, or in any segment when it is
    empty) move to `to_segment` and so to its schedule, when an admin applies it."""

    __tablename__ = "rating_rule"
    __table_args__ = (CheckConstraint(_in("grade", GRADES), name="grade"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grade: Mapped[str] = mapped_column(String(8))
    from_segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segment.id", ondelete="CASCADE")
    )
    to_segment_id: Mapped[int] = mapped_column(ForeignKey("segment.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    applied_by: Mapped[str] = mapped_column(String(80), default="", server_default="")
    moved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    from_segment: Mapped[Segment | None] = relationship(foreign_keys=[from_segment_id])
    to_segment: Mapped[Segment] = relationship(foreign_keys=[to_segment_id])


SAVED_FILTER_LISTS = ("invoices", "debtors")


class SavedFilter(Base):
    """A list's filter an admin saved under a name (the query string of the list)."""

    __tablename__ = "saved_filter"
    __table_args__ = (
        UniqueConstraint("admin_user_id", "list_name", "name"),
        CheckConstraint(_in("list_name", SAVED_FILTER_LISTS), name="list_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_user_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"))
    list_name: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# the collection hand-over keeps its tables beside its code; importing them here puts them
# on Base.metadata wherever the models are loaded (issue 20)
from portal.domain.collection import models as _collection_models  # noqa: E402, F401

# the work queue's tables live with its domain (issue 20); imported here so that every
# table is on the one metadata
from portal.domain.worklist.models import (  # noqa: E402, F401
    PhoneFlag,
    WorkTask,
    WorkTaskEntry,
    WorkTaskSource,
)
