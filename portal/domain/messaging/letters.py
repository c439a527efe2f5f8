"""Letters: reminders on paper, printed in batches.

The dunning run queues a letter as an outbox row with channel `letter` (recipient: the
postal address on one line). No worker sends it: it waits until an admin makes a print
batch. `make_batch` then writes every pending letter (the step's mail text in a letter
layout, see `portal.mails.LetterWriter`) with the deadline counted from the day of
printing, puts them in one PDF, and marks them sent, each with a `PrintedLetter` row
naming its batch.

DESIGN.md section 9: the 14 days of a posted letter run from the third business day after
posting, so the deadline in a letter is that day plus 14 days, counted when it is printed
(`terms.deadline`, which knows the public holidays).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.dunning import terms
from portal.domain.messaging import outbox
from portal.models import Debtor, OutboxMessage, OutboxStatus, PrintBatch, PrintedLetter, utcnow

log = logging.getLogger(__name__)


WriteLetter = Callable[[Session, OutboxMessage, dt.date], str | None]
"""The HTML of one letter printed on that day, or None when nothing is left to ask for."""
ToPdf = Callable[[list[str]], bytes]
"""One PDF of these letters (each the HTML `WriteLetter` made), a new page for each."""


def deadline(printed_on: dt.date, calendar: str = "NL") -> dt.date:
    """The last day to pay in a letter printed (and posted) on `printed_on`."""
    return terms.deadline("letter", printed_on, calendar)


def postal_address(debtor: Debtor) -> str:
    """The address on one line, as the outbox shows a letter's recipient."""
    parts = [debtor.name, debtor.address_line, f"{debtor.postcode} {debtor.city}".strip()]
    if debtor.country and debtor.country != debtor.brand.country:
        parts.append(debtor.country)
    return ", ".join(p for p in parts if p)[:254]


def queue_letter(
    session: Session,
    debtor: Debtor,
    *,
    kind: str,
    dedupe_key: str | None = None,
    render_key: str | None = None,
    render_data: dict[str, Any] | None = None,
) -> OutboxMessage:
    """Add a letter to the outbox in the caller's transaction; it waits for a print batch."""
    message = OutboxMessage(
        channel="letter",
        kind=kind,
        recipient=postal_address(debtor),
        subject="",
        body_text="",
        debtor_id=debtor.id,
        brand_id=debtor.brand_id,
        dedupe_key=dedupe_key,
        render_key=render_key,
        render_data=render_data,
    )
    session.add(message)
    return message


def _pending() -> Any:
    return select(OutboxMessage).where(
        OutboxMessage.channel == "letter", OutboxMessage.status == OutboxStatus.PENDING
    )


def pending_count(session: Session) -> int:
    """How many letters wait for printing."""
    return int(session.scalar(select(func.count()).select_from(_pending().subquery())) or 0)


def batches(session: Session, limit: int = 50) -> list[PrintBatch]:
    """The newest print batches first (without their PDFs)."""
    return list(session.scalars(select(PrintBatch).order_by(PrintBatch.id.desc()).limit(limit)))


def make_batch(
    session: Session, actor: str, printed_on: dt.date, write: WriteLetter, to_pdf: ToPdf
) -> PrintBatch | None:
    """Print every pending letter into one PDF (the caller commits); None when none waits.

    A letter whose invoices were all paid meanwhile is dropped, not printed; one that
    cannot be written is marked failed with the reason, and the others are printed.
    """
    letters = list(session.scalars(_pending().order_by(OutboxMessage.id).with_for_update()))
    pages: list[str] = []
    printed: list[OutboxMessage] = []
    now = utcnow()
    for letter in letters:
        letter.attempts += 1
        try:
            html = write(session, letter, printed_on)
        except Exception as exc:  # one broken text must not stop the batch
            log.exception("letter %s: could not be written", letter.id)
            outbox.move(letter, OutboxStatus.FAILED)
            letter.last_error = f"could not be written: {exc}"[:1000]
            continue
        if html is None:
            outbox.move(letter, OutboxStatus.DROPPED)
            letter.last_error = "nothing left to ask for when it was time to print"
            continue
        pages.append(html)
        printed.append(letter)
    if not printed:
        session.flush()
        return None
    batch = PrintBatch(
        created_by=actor, printed_on=printed_on, count=len(printed), pdf=to_pdf(pages)
    )
    session.add(batch)
    session.flush()
    for letter in printed:
        outbox.move(letter, OutboxStatus.SENT)
        letter.sent_at = now
        session.add(PrintedLetter(message_id=letter.id, batch_id=batch.id))
    audit.record(
        session,
        actor,
        "letters.printed",
        batch_id=batch.id,
        count=len(printed),
        day=str(printed_on),
    )
    session.flush()
    return batch
