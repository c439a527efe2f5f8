"""Import columns the law needs: the customer's kind (DESIGN.md section 10) and the last
reminder step already sent (section 9)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import db
from portal.domain.dunning import engine as dunning
from portal.domain.imports import engine as imports
from portal.models import Debtor, Invoice, InvoiceReminder, ReminderStep
from tests.factories import create_brand
from tests.imports.test_import import csv_bytes


def test_the_customers_kind_comes_from_a_type_column_or_a_company_number_else_the_brand(app):
    brand = create_brand(default_debtor_kind="b2c")
    header = [
        *["Factuurnummer", "Klantnummer", "Naam", "E-mail", "Factuurdatum", "Bedrag"],
        "Klanttype",
        "KvK-nummer",
    ]
    rows = [
        header,
        ["F-1", "K1", "De Korf B.V.", "info@korf.nl", "01-10-2026", "100", "Zakelijk", ""],
        ["F-2", "K2", "Anna de Vries", "anna@example.com", "01-10-2026", "100", "particulier", ""],
        ["F-3", "K3", "Smit Installatie", "smit@example.com", "01-10-2026", "100", "", "12345678"],
        ["F-4", "K4", "Piet Jansen", "piet@example.com", "01-10-2026", "100", "", ""],
        ["F-5", "K5", "Onbekend", "x@example.com", "01-10-2026", "100", "weet niet", ""],
    ]
    preview = imports.preview(db.session(), csv_bytes(rows), brand=brand)
    assert not preview.errors, preview.errors
    assert (preview.new_businesses, preview.new_consumers) == (2, 3)
    assert [i.column for i in preview.warnings] == ["Customer type"]
    imports.commit(db.session(), preview, brand=brand, by="test")
    db.session.commit()
    kinds = dict(db.session.execute(select(Debtor.number, Debtor.kind)).all())
    assert kinds == {"K1": "b2b", "K2": "b2c", "K3": "b2b", "K4": "b2c", "K5": "b2c"}
    # a bakery B.V. follows the business schedule, and so gets commercial interest
    korf = db.session.scalar(select(Debtor).where(Debtor.number == "K1"))
    assert dunning.schedule_for(db.session(), korf).default_for == "b2b"


def test_a_brand_of_businesses_makes_businesses_unless_the_file_says_consumer(app):
    brand = create_brand(default_debtor_kind="b2b")
    rows = [
        ["Factuurnummer", "Klantnummer", "Naam", "E-mail", "Factuurdatum", "Bedrag", "Soort klant"],
        ["F-1", "K1", "A", "a@example.com", "01-10-2026", "100", ""],
        ["F-2", "K2", "B", "b@example.com", "01-10-2026", "100", "Consument"],
    ]
    preview = imports.preview(db.session(), csv_bytes(rows), brand=brand)
    assert (preview.new_businesses, preview.new_consumers) == (1, 1)


def test_the_last_step_sent_places_new_invoices_on_their_schedule(app):
    brand = create_brand()
    rows = [
        [
            *[
                "Factuurnummer",
                "Klantnummer",
                "Naam",
                "E-mail",
                "Factuurdatum",
                "Vervaldatum",
                "Bedrag",
            ],
            "Laatste herinnering",
        ],
        ["F-1", "K1", "A", "a@example.com", "01-08-2026", "15-08-2026", "100", "2e herinnering"],
        ["F-2", "K2", "B", "b@example.com", "01-08-2026", "15-08-2026", "100", ""],
        ["F-3", "K3", "C", "c@example.com", "01-08-2026", "15-08-2026", "100", "aanmaning"],
        ["F-4", "K4", "D", "d@example.com", "01-08-2026", "15-08-2026", "100", "iets"],
    ]
    preview = imports.preview(db.session(), csv_bytes(rows), brand=brand)
    assert preview.placed == 2
    assert [i.column for i in preview.warnings] == ["Last reminder step"]
    imports.commit(db.session(), preview, brand=brand, by="test")
    db.session.commit()

    def done(number):
        return list(
            db.session.scalars(
                select(ReminderStep.kind)
                .join(InvoiceReminder, InvoiceReminder.step_id == ReminderStep.id)
                .join(Invoice, Invoice.id == InvoiceReminder.invoice_id)
                .where(Invoice.number == number)
                .order_by(ReminderStep.position)
            )
        )

    # the default Consumers NL schedule: nudge, reminder, reminder, notice, 14-day letter
    assert done("F-1") == ["nudge", "reminder", "reminder"]
    assert done("F-3") == ["nudge", "reminder", "reminder", "notice"]
    assert done("F-2") == [] and done("F-4") == []
    # the run goes on with the next step, after the schedule's gap from the import day
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "F-3"))
    placed_on = db.session.scalar(
        select(InvoiceReminder.sent_on).where(InvoiceReminder.invoice_id == invoice.id)
    )
    later = placed_on + dt.timedelta(days=7)
    due = {d.invoice_id: d.step_id for d in dunning.due_steps(db.session(), later)}
    assert db.session.get(ReminderStep, due[invoice.id]).kind == "fourteen_day"
    assert invoice.id not in {d.invoice_id for d in dunning.due_steps(db.session(), placed_on)}
