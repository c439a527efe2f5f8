"""The "new invoices" event of an import: one mail per debtor with their new invoices.

The commit records the event in the batch (`counts["notify"]`: debtor id -> invoice ids)
in the import's own transaction, so it cannot get lost; the worker then sends, once per
debtor (the outbox key), and clears it. Imports of old invoices can be committed without
it (a first migration should not mail every customer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.payments import paylinks
from portal.models import Debtor, ImportBatch, Invoice, InvoiceKind, InvoiceStatus, PayLink


class NewInvoiceMailer(Protocol):
    def new_invoices(
        self,
        session: Session,
        debtor: Debtor,
        invoices: Sequence[Invoice],
        link: PayLink,
        dedupe_key: str,
    ) -> bool:
        """Queue the mail; False when the debtor has no address."""
        ...


def mark(batch: ImportBatch, by_debtor: dict[int, list[int]]) -> None:
    """Record the event in the batch, in the import's transaction."""
    if by_debtor:
        batch.counts = {**batch.counts, "notify": {str(k): v for k, v in by_debtor.items()}}


def send(
    session: Session,
    mailer: NewInvoiceMailer,
    batch_id: int,
    link_days: int = paylinks.DEFAULT_DAYS,
) -> int:
    """Mail each debtor of the batch their new, still open invoices; returns mails queued."""
    batch = session.execute(
        select(ImportBatch).where(ImportBatch.id == batch_id).with_for_update()
    ).scalar_one_or_none()
    if batch is None or not batch.counts.get("notify"):
        return 0
    pending: dict[str, list[int]] = dict(batch.counts["notify"])
    sent = 0
    for debtor_key, invoice_ids in pending.items():
        debtor = session.get(Debtor, int(debtor_key))
        invoices = list(
            session.scalars(
                select(Invoice)
                .where(
                    Invoice.id.in_(invoice_ids),
                    Invoice.status == InvoiceStatus.OPEN.value,
                    Invoice.kind == InvoiceKind.INVOICE.value,
                    Invoice.open_cents > 0,
                )
                .order_by(Invoice.due_date, Invoice.id)
            )
        )
        if debtor is None or debtor.do_not_contact or not invoices:
            continue
        link = paylinks.create(
            session, debtor, invoices, actor="system", purpose="new_invoices", days=link_days
        )
        key = f"new-invoices:{batch.id}:{debtor.id}"
        if mailer.new_invoices(session, debtor, invoices, link, key):
            sent += 1
            audit.record_each(
                session, "system", "invoice.notified", debtor.id, [i.id for i in invoices]
            )
    counts = dict(batch.counts)
    counts.pop("notify", None)
    batch.counts = {**counts, "notified": sent}
    return sent
