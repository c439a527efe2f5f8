"""Figures for the admin dashboard: open and overdue totals per brand and per segment.
Records made with an API test key are left out (DESIGN.md section 9)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.domain.api import TEST_PREFIX
from portal.models import Brand, Debtor, Invoice, InvoiceStatus, Segment


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
