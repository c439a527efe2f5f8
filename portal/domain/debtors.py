"""Debtor accounts as a login session sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from portal.domain import audit, login
from portal.models import GRADES, Debtor, DebtorEmail, DebtorRating, Invoice, InvoiceStatus


@dataclass(frozen=True)
class Account:
    debtor: Debtor
    open_count: int
    open_cents: int


def accounts(session: Session, debtor_ids: Sequence[int]) -> list[Account]:
    """The accounts a shared address may open, with their open totals (one query)."""
    totals = (
        select(
            Invoice.debtor_id,
            func.count().label("n"),
            func.sum(Invoice.open_cents).label("cents"),
        )
        .where(Invoice.debtor_id.in_(debtor_ids), Invoice.status == InvoiceStatus.OPEN)
        .group_by(Invoice.debtor_id)
        .subquery()
    )
    stmt = (
        select(Debtor, func.coalesce(totals.c.n, 0), func.coalesce(totals.c.cents, 0))
        .outerjoin(totals, totals.c.debtor_id == Debtor.id)
        .where(Debtor.id.in_(debtor_ids))
        .order_by(Debtor.name, Debtor.id)
    )
    return [Account(d, int(n), int(c)) for d, n, c in session.execute(stmt).unique()]


ADMIN_PAGE = 50


@dataclass(frozen=True)
class DebtorRow:
    debtor: Debtor
    open_count: int
    open_cents: int


def search(
    session: Session, q: str = "", brand_id: int | None = None, page: int = 1, grade: str = ""
) -> tuple[list[DebtorRow], bool]:
    """Debtors matching a name, number or email (admin search), with open totals; with
    `grade`, only debtors of that payer rating.

    Returns one page and whether there is a next one.
    """
    totals = (
        select(
            Invoice.debtor_id,
            func.count().label("n"),
            func.sum(Invoice.open_cents).label("cents"),
        )
        .where(Invoice.status == InvoiceStatus.OPEN)
        .group_by(Invoice.debtor_id)
        .subquery()
    )
    stmt = (
        select(Debtor, func.coalesce(totals.c.n, 0), func.coalesce(totals.c.cents, 0))
        .outerjoin(totals, totals.c.debtor_id == Debtor.id)
        .order_by(Debtor.name, Debtor.id)
    )
    if brand_id:
        stmt = stmt.where(Debtor.brand_id == brand_id)
    if grade in GRADES:
        rated = select(DebtorRating.debtor_id).where(DebtorRating.grade == grade)
        stmt = stmt.where(Debtor.id.in_(rated))
    if q.strip():
        pattern = (
            "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        by_email = select(DebtorEmail.debtor_id).where(
            DebtorEmail.email.ilike(pattern, escape="\\")
        )
        stmt = stmt.where(
            Debtor.name.ilike(pattern, escape="\\")
            | Debtor.number.ilike(pattern, escape="\\")
            | Debtor.id.in_(by_email)
        )
    rows = session.execute(stmt.limit(ADMIN_PAGE + 1).offset((max(page, 1) - 1) * ADMIN_PAGE))
    found = [DebtorRow(d, int(n), int(c)) for d, n, c in rows.unique()]
    return found[:ADMIN_PAGE], len(found) > ADMIN_PAGE


def matching_ids(
    session: Session, q: str = "", brand_id: int | None = None, grade: str = ""
) -> Select[int]:
    """The ids of every debtor the admin search matches (all pages), as a subquery-able
    select: bulk work acts on exactly what the list shows."""
    stmt = select(Debtor.id)
    if brand_id:
        stmt = stmt.where(Debtor.brand_id == brand_id)
    if grade in GRADES:
        stmt = stmt.where(
            Debtor.id.in_(select(DebtorRating.debtor_id).where(DebtorRating.grade == grade))
        )
    if q.strip():
        pattern = (
            "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        by_email = select(DebtorEmail.debtor_id).where(
            DebtorEmail.email.ilike(pattern, escape="\\")
        )
        stmt = stmt.where(
            Debtor.name.ilike(pattern, escape="\\")
            | Debtor.number.ilike(pattern, escape="\\")
            | Debtor.id.in_(by_email)
        )
    return stmt


CONTACT_FIELDS = (
    "name",
    "phone",
    "address_line",
    "postcode",
    "city",
    "country",
    "language",
    "kind",
    "segment_id",
)


class EmailChangeRefused(Exception):
    """Only a full admin may change a debtor's email addresses: an address opens the
    debtor's portal."""


class EmailNotifier(Protocol):
    """Writes the mail that tells the old addresses (mails.RequestMails)."""

    def email_changed(self, session: Session, debtor: Debtor, addresses: Sequence[str]) -> None: ...


def update_contact(
    session: Session,
    debtor: Debtor,
    values: dict[str, object],
    emails: list[str],
    *,
    by: str,
    may_change_emails: bool,
    notifier: EmailNotifier,
) -> list[str]:
    """Change a debtor's contact data; returns the names of the fields that changed.

    A change of the email addresses (any address added, removed or moved to the front)
    needs `may_change_emails` (a full admin; else EmailChangeRefused and nothing changes),
    is audited with the old and new addresses, tells every old address, and ends every
    portal session of the debtor.
    """
    before = [e.email for e in debtor.emails]
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    if wanted != before and not may_change_emails:
        raise EmailChangeRefused()
    changed = [f for f in CONTACT_FIELDS if f in values and getattr(debtor, f) != values[f]]
    for field in changed:
        setattr(debtor, field, values[field])
    if wanted != before:
        # keep the rows of addresses that stay: replacing them would insert before deleting
        kept = {e.email: e for e in debtor.emails if e.email in wanted}
        debtor.emails = [kept.get(e) or DebtorEmail(email=e) for e in wanted]
        changed.append("emails")
        session.flush()
        login.end_all_sessions(session, [debtor.id], by, "email changed")
        audit.record(
            session, by, "admin.debtor_emails_changed", debtor_id=debtor.id, old=before, new=wanted
        )
        notifier.email_changed(session, debtor, before)
    if changed:
        audit.record(session, by, "admin.debtor_updated", debtor_id=debtor.id, fields=changed)
    return changed
