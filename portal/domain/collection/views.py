"""What admin pages show of an invoice's collection: its queue entry, the hand-over that
has it, its write-offs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.collection import handover, writeoff
from portal.domain.collection.models import CollectionEntry, Handover, WriteOff
from portal.models import Invoice


@dataclass(frozen=True)
class CollectionView:
    entry: CollectionEntry | None
    handover: Handover | None
    write_offs: list[WriteOff]


def collection_view(session: Session, invoice: Invoice) -> CollectionView:
    """The invoice's place in collection (admin's invoice page)."""
    return CollectionView(
        entry=session.scalar(
            select(CollectionEntry).where(CollectionEntry.invoice_id == invoice.id)
        ),
        handover=handover.active_of_invoice(session, invoice.id),
        write_offs=writeoff.of_invoice(session, invoice.id),
    )
