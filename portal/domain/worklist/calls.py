"""The schedule step of kind "call": the dunning run makes a task instead of a message."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from sqlalchemy.orm import Session

from portal.domain.dunning import terms
from portal.domain.worklist import service
from portal.domain.worklist.models import TaskReason, WorkTask
from portal.models import Debtor, ReminderStep


def call_task(
    session: Session,
    day: dt.date,
    debtor: Debtor,
    step: ReminderStep,
    invoice_ids: Sequence[int],
) -> WorkTask | None:
    """The team's task to phone the debtor about these invoices, due on the first business
    day from `day` where the debtor lives (`terms.call_on`). A debtor who already has an
    open call task gets no second one: the step joins that task's log. The run's (invoice,
    step) records stay the guard against doing the step twice."""
    calendar = terms.calendar_of(debtor.country, debtor.brand.country)
    ids = ",".join(str(i) for i in sorted(invoice_ids))
    if len(ids) > 160:  # many invoices: a digest keeps the key whole
        ids = "sha256:" + hashlib.sha256(ids.encode()).hexdigest()
    # no autoflush: the run's chunk holds messages it writes in bulk later (engine._Rows)
    with session.no_autoflush:
        made = service.make(
            session,
            debtor_id=debtor.id,
            reason=TaskReason.CALL.value,
            due_on=terms.call_on(day, calendar),
            actor="system",
            source_key=f"call:{step.id}:{ids}",
            invoice_id=invoice_ids[0] if len(invoice_ids) == 1 else None,
            details={"step": step.id, "invoices": list(invoice_ids)},
        )
    return made.task
