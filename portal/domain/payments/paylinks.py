"""Pay-links: open the payment of specific invoices without a full login.

The URL carries an itsdangerous-signed `(pay_link_id, nonce)` (DESIGN.md section 9), so
admin and the API can show a link again; the database decides whether it still works:
it ends when its invoices are paid, when it is revoked, or when it expires.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.models import Debtor, Instalment, Invoice, InvoiceStatus, PayLink, Payment, utcnow

DEFAULT_DAYS = 60
SALT = "pay-link"


class LinkState(enum.StrEnum):
    USABLE = "usable"
    PAID = "paid"
    REVOKED = "revoked"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True)
class Resolved:
    """What a pay-link token leads to."""

    state: LinkState
    link: PayLink | None = None

    @property
    def open_invoices(self) -> list[Invoice]:
        if self.link is None:
            return []
        return [
            i for i in self.link.invoices if i.status == InvoiceStatus.OPEN and i.open_cents > 0
        ]


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def create(
    session: Session,
    debtor: Debtor,
    invoices: Sequence[Invoice],
    *,
    actor: str,
    purpose: str = "manual",
    days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
    instalment: Instalment | None = None,
) -> PayLink:
    """A new link for `invoices` of `debtor` (all must be theirs); with `instalment`, it
    pays that instalment of the plan over those invoices."""
    if not invoices or any(i.debtor_id != debtor.id for i in invoices):
        raise ValueError("a pay-link covers invoices of one debtor")
    now = now or utcnow()
    link = PayLink(
        nonce=secrets.token_urlsafe(12),
        brand_id=debtor.brand_id,
        debtor_id=debtor.id,
        purpose=purpose,
        created_by=actor,
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
        invoices=list(invoices),
        instalment=instalment,
    )
    session.add(link)
    session.flush()
    audit.record_each(
        session,
        actor,
        "paylink.created",
        debtor.id,
        [i.id for i in invoices],
        link=link.id,
        purpose=purpose,
    )
    return link


def token(link: PayLink, secret_key: str) -> str:
    """The URL token of `link`; the same every time it is asked for."""
    return str(_serializer(secret_key).dumps([link.id, link.nonce]))


def sample_token(secret_key: str) -> str:
    """A token as long as a real one (for previews that count characters); opens nothing."""
    return str(_serializer(secret_key).dumps([10_000_000, "x" * 16]))


def resolve(
    session: Session, raw: str, secret_key: str, now: dt.datetime | None = None
) -> Resolved:
    """Check a token from a URL; a forged or unknown token is INVALID, never an error."""
    try:
        link_id, nonce = _serializer(secret_key).loads(raw)
    except (BadSignature, ValueError, TypeError):
        return Resolved(LinkState.INVALID)
    link = session.get(PayLink, link_id) if isinstance(link_id, int) else None
    if link is None or not secrets.compare_digest(str(nonce), link.nonce):
        return Resolved(LinkState.INVALID)
    return Resolved(state_of(link, now), link)


def state_of(link: PayLink, now: dt.datetime | None = None) -> LinkState:
    """Whether a (genuine) link still works: revoked, paid and expired end it."""
    if link.status == "revoked":
        return LinkState.REVOKED
    if not Resolved(LinkState.USABLE, link).open_invoices:
        return LinkState.PAID
    if link.instalment is not None and link.instalment.open_cents == 0:
        return LinkState.PAID
    if (now or utcnow()) >= link.expires_at:
        return LinkState.EXPIRED
    return LinkState.USABLE


def revoke(session: Session, link: PayLink, actor: str, now: dt.datetime | None = None) -> bool:
    """Stop a link from working; False when it was revoked already."""
    if link.status == "revoked":
        return False
    link.status = "revoked"
    link.revoked_at = now or utcnow()
    audit.record_each(
        session,
        actor,
        "paylink.revoked",
        link.debtor_id,
        [i.id for i in link.invoices],
        link=link.id,
    )
    return True


def last_paid_payment(session: Session, link: PayLink) -> Payment | None:
    """The most recent paid payment made through `link` (for the 'already paid' receipt)."""
    return session.scalar(
        select(Payment)
        .where(Payment.pay_link_id == link.id, Payment.status == "paid")
        .order_by(Payment.paid_at.desc())
        .limit(1)
    )


def for_invoice(session: Session, invoice_id: int) -> list[PayLink]:
    """Every link that covers an invoice, newest first (admin)."""
    return list(
        session.scalars(
            select(PayLink)
            .join(PayLink.invoices)
            .where(Invoice.id == invoice_id)
            .order_by(PayLink.created_at.desc(), PayLink.id.desc())
        )
    )


COPY_MIN_DAYS_LEFT = 7  # a copy's link is made anew when the last has less than this left


def for_copy(session: Session, invoice: Invoice, now: dt.datetime | None = None) -> PayLink:
    """The pay-link printed as a QR code on the PDF copy of an open invoice: the copy's
    last link while it works for at least a week more, else a new one."""
    now = now or utcnow()
    for link in for_invoice(session, invoice.id):
        if (
            link.purpose == "copy"
            and len(link.invoices) == 1
            and state_of(link, now) == LinkState.USABLE
            and link.expires_at - now >= dt.timedelta(days=COPY_MIN_DAYS_LEFT)
        ):
            return link
    return create(session, invoice.debtor, [invoice], actor="system", purpose="copy", now=now)
