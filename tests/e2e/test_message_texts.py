"""An admin rewrites the reminder text in the browser, watches the preview follow, saves,
runs the schedule for a day and the debtor's mail says what the admin wrote."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from portal.db import db
from portal.models import ReminderSchedule, ReminderStep
from portal.tasks import send_outbox_now
from tests.conftest import body_text
from tests.e2e.conftest import open_admin_page
from tests.factories import (
    create_admin,
    create_brand,
    create_debtor,
    create_invoice,
    create_segment,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
DUE = dt.date(2026, 10, 15)


@pytest.fixture(scope="module")
def setup(live_server):
    brand = create_brand(name="Zon B.V.", slug="zon")
    schedule = ReminderSchedule(name="Consumers e2e", min_gap_days=7)
    schedule.steps = [ReminderStep(position=1, offset_days=7, kind="reminder", fee_rule="none")]
    db.session.add(schedule)
    db.session.commit()
    segment = create_segment(schedule_id=schedule.id)
    debtor = create_debtor(
        brand,
        name="Petra de Vries",
        language="en",
        segment_id=segment.id,
        emails=["petra@example.com"],
    )
    create_invoice(
        debtor,
        number="ZON-4711",
        total_cents=8_950,
        due_date=DUE,
        invoice_date=DUE - dt.timedelta(days=14),
    )
    create_admin("boss@example.com", password="a strong admin password")
    return debtor.number


def test_admin_edits_previews_saves_and_the_run_sends_the_new_text(
    page: Page, live_server, setup, inbox, app
):
    base = live_server
    page.goto(f"{base}/admin/")
    page.get_by_label("Email address").fill("boss@example.com")
    page.get_by_label("Password").fill("a strong admin password")
    page.get_by_role("button", name="Sign in").click()
    open_admin_page(page, "Settings", "Message texts")
    page.get_by_role("link", name="Default text (Reminder, English)").click()
    expect(page.get_by_role("heading", name=re.compile("^Reminder"))).to_be_visible()

    page.get_by_label("Preview for").select_option(label=f"Petra de Vries ({setup})")
    subject = page.get_by_label("Subject")
    subject.fill("Zon: {{ invoices|length }} invoice open, {{ total }}")
    expect(page.locator("#preview-subject")).to_have_text("Zon: 1 invoice open, €89.50")
    frame = page.frame_locator("#preview iframe")
    expect(frame.get_by_text("ZON-4711")).to_be_visible()

    html = page.get_by_label("HTML body")
    html.fill("<p>Dear {{ debtor.name }}, the sun shines for all.</p>\n" + html.input_value())
    expect(frame.get_by_text("Dear Petra de Vries, the sun shines for all.")).to_be_visible()

    # a mistake is shown with its place, and nothing is saved
    text = page.get_by_label("Plain text", exact=True)
    good_text = text.input_value()
    text.fill(good_text + "\n{{ debtor.secret }")
    expect(page.get_by_text(re.compile(r"Plain text, line \d+: syntax error"))).to_be_visible()
    text.fill(good_text)
    expect(page.locator("#preview-subject")).to_be_visible()
    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_text("Saved as version 1")).to_be_visible()

    out = app.test_cli_runner().invoke(args=["dunning", "run", "--date", "2026-10-22"])
    assert "1 messages" in out.output, out.output
    send_outbox_now()
    mail = inbox.wait_for("petra@example.com")
    assert str(mail["Subject"]) == "Zon: 1 invoice open, €89.50"
    html_body = mail.get_body(preferencelist=("html",)).get_content()
    assert "Dear Petra de Vries, the sun shines for all." in html_body
    assert "ZON-4711" in body_text(mail)
