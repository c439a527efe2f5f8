"""The admin's invoice page agrees with itself: the history's "Reminder sent" and the
reminders panel read the same steps, and the panel says what became of each message."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import db
from portal.models import AuditEvent, InvoiceReminder, ReminderStep
from tests.admin.test_admin import admin_login
from tests.dunning.test_engine import DUE, run
from tests.factories import create_admin, create_debtor, create_invoice


def reminders_panel(page: str) -> str:
    panel = page[page.index('id="reminders"') :]
    return panel[: panel.index("</section>")]


def test_after_a_run_the_history_and_the_panel_name_the_same_step(app, client, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor, due_date=DUE, total_cents=50_000)
    run(app, DUE + dt.timedelta(days=7))
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    page = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert "Reminder sent by email" in page
    panel = reminders_panel(page)
    assert "No reminder step has been sent" not in panel
    assert "Reminder · by email: waiting" in panel


def test_the_demo_records_every_reminder_its_history_shows(app):
    app.test_cli_runner().invoke(args=["seed-demo", "--quiet"])
    told = set(
        tuple(row)
        for row in db.session.execute(
            select(AuditEvent.invoice_id, AuditEvent.details["step"].as_string()).where(
                AuditEvent.action == "reminder.sent"
            )
        )
    )
    recorded = set(
        tuple(row)
        for row in db.session.execute(
            select(InvoiceReminder.invoice_id, ReminderStep.kind).join(
                ReminderStep, ReminderStep.id == InvoiceReminder.step_id
            )
        )
    )
    assert told and told == recorded
