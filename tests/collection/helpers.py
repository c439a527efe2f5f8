"""Shared set-up for the collection tests: a schedule ending in a collection step, an
agency, and invoices the schedule brought to the queue."""

from __future__ import annotations

import datetime as dt

from portal.db import db
from portal.domain.collection.models import Agency, CollectionRule
from portal.models import InvoiceReminder, ReminderSchedule, ReminderStep
from tests.factories import create_segment

DAY = dt.date(2026, 12, 1)


def collection_segment(**kw):
    """A segment whose schedule's last step is `collection`; returns (segment, step)."""
    schedule = ReminderSchedule(name=f"Collection test {id(object())}", min_gap_days=7)
    step = ReminderStep(position=2, offset_days=45, kind="collection")
    schedule.steps = [ReminderStep(position=1, offset_days=7, kind="reminder"), step]
    db.session.add(schedule)
    db.session.commit()
    return create_segment(schedule_id=schedule.id, **kw), step


def reached_collection(invoice, step, on=DAY):
    """The dunning run marked the invoice ready for collection on `on`."""
    db.session.add(InvoiceReminder(invoice_id=invoice.id, step_id=step.id, sent_on=on))
    db.session.commit()


def create_agency(**kw):
    values = {
        "name": f"Agency {id(object())}",
        "contact_name": "Ingrid Incasso",
        "email": "dossiers@agency.example.com",
        "phone": "+31 30 123 4567",
        "website": "https://agency.example.com",
        "address": "Incassoweg 1, 3511 AA Utrecht",
        "delivery": "download",
        "secret": "whsec_test-agency-secret",
        "fee_terms": "15% of what is collected",
    }
    values.update(kw)
    agency = Agency(**values)
    db.session.add(agency)
    db.session.commit()
    return agency


def automatic_rule(segment, agency, after_days=10):
    rule = CollectionRule(
        segment_id=segment.id, mode="auto", after_days=after_days, agency_id=agency.id
    )
    db.session.add(rule)
    db.session.commit()
    return rule
