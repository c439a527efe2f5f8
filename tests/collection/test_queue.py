"""The collection queue: what the schedule brings, what a person decides, and the segment's
rule that hands over after N days, never a disputed, promised or planned invoice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import db
from portal.domain.collection import queue
from portal.domain.collection.models import CollectionEntry, EntryState
from portal.domain.dunning import holds
from portal.models import (
    DebtorRequest,
    InstalmentPlan,
    InvoiceStatus,
    PlanInvoice,
    RequestKind,
)
from tests.collection.helpers import (
    DAY,
    automatic_rule,
    collection_segment,
    create_agency,
    reached_collection,
)
from tests.factories import create_debtor, create_invoice


def entry(invoice):
    return db.session.scalar(
        select(CollectionEntry).where(CollectionEntry.invoice_id == invoice.id)
    )


class Recorder:
    """Stands in for the hand-over: records what the rule handed over."""

    def __init__(self):
        self.calls = []

    def __call__(self, session, debtor_id, agency_id, invoice_ids):
        self.calls.append((debtor_id, agency_id, sorted(invoice_ids)))


def test_the_schedule_brings_invoices_once_and_paid_ones_leave(app):
    segment, step = collection_segment()
    debtor = create_debtor(segment_id=segment.id)
    first, second = create_invoice(debtor), create_invoice(debtor)
    never = create_invoice(debtor)  # its schedule did not reach the end
    reached_collection(first, step)
    reached_collection(second, step)

    assert queue.enqueue_from_schedule(db.session(), DAY) == 2
    assert queue.enqueue_from_schedule(db.session(), DAY) == 0
    assert entry(first).state == EntryState.WAITING and entry(first).entered_on == DAY
    assert entry(never) is None

    second.open_cents, second.status = 0, InvoiceStatus.PAID.value
    db.session.flush()
    assert queue.tidy(db.session()) == 1
    assert entry(second).state == EntryState.LEFT
    listed = queue.page(db.session(), DAY)
    assert listed.total_invoices == 1
    assert [g.debtor_id for g in listed.groups] == [debtor.id]
    assert listed.groups[0].open_cents == first.open_cents


def test_automatic_after_n_days_never_disputed_promised_planned_or_stopped(app):
    segment, step = collection_segment()
    agency = create_agency()
    automatic_rule(segment, agency, after_days=10)
    plain = create_debtor(segment_id=segment.id)
    disputed = create_debtor(segment_id=segment.id)
    promised = create_debtor(segment_id=segment.id)
    planned = create_debtor(segment_id=segment.id)
    stopped = create_debtor(segment_id=segment.id)
    invoices = {d: create_invoice(d) for d in (plain, disputed, promised, planned, stopped)}
    for invoice in invoices.values():
        reached_collection(invoice, step)
    db.session.add(
        DebtorRequest(
            kind=RequestKind.DISPUTE.value,
            debtor_id=disputed.id,
            invoice_id=invoices[disputed].id,
            reason="quality",
            message="It broke",
        )
    )
    holds.pause(
        db.session(), invoices[promised], "promise", DAY + dt.timedelta(days=30), "debtor", DAY
    )
    plan = InstalmentPlan(
        debtor_id=planned.id, frequency="monthly", total_cents=12100, status="active"
    )
    db.session.add(plan)
    db.session.flush()
    db.session.add(PlanInvoice(plan_id=plan.id, invoice_id=invoices[planned].id, open_cents=12100))
    db.session.commit()
    queue.enqueue_from_schedule(db.session(), DAY)
    queue.stop(db.session(), stopped.id, "Customer called: pays Friday", "admin:1")

    early = Recorder()
    queue.sweep(db.session(), DAY + dt.timedelta(days=9), early)
    assert early.calls == []

    due = Recorder()
    result = queue.sweep(db.session(), DAY + dt.timedelta(days=10), due)
    assert due.calls == [(plain.id, agency.id, [invoices[plain].id])]
    assert result.handed_over == 1
    assert entry(invoices[stopped]).state == EntryState.STOPPED
    assert entry(invoices[stopped]).note == "Customer called: pays Friday"

    flags = {g.debtor_id: g.flags for g in queue.page(db.session(), DAY).groups}
    assert flags[disputed.id] == {"disputed"}
    assert flags[promised.id] == {"promised"}
    assert flags[planned.id] == {"planned"}


def test_a_promise_whose_day_passed_no_longer_blocks(app):
    segment, step = collection_segment()
    agency = create_agency()
    automatic_rule(segment, agency, after_days=0)
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor)
    reached_collection(invoice, step)
    holds.pause(db.session(), invoice, "promise", DAY + dt.timedelta(days=3), "debtor", DAY)
    db.session.commit()
    recorder = Recorder()
    queue.sweep(db.session(), DAY + dt.timedelta(days=3), recorder)
    assert recorder.calls == []
    queue.sweep(db.session(), DAY + dt.timedelta(days=4), recorder)
    assert recorder.calls == [(debtor.id, agency.id, [invoice.id])]


def test_manual_segments_wait_for_a_person_and_marking_by_hand(app):
    segment, _step = collection_segment()
    create_agency()
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor)
    marked = queue.mark(db.session(), invoice, "admin:1", DAY)
    assert marked.source == "hand" and marked.state == EntryState.WAITING
    recorder = Recorder()
    queue.sweep(db.session(), DAY + dt.timedelta(days=400), recorder)
    assert recorder.calls == []
    assert queue.resume(db.session(), debtor.id, "admin:1") == 0
