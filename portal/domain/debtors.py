"""Debtor accounts as a login session sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Debtor, Invoice, InvoiceStatus


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
