"""A debtor asks for a payment plan within the policy, agrees to it at once, and pays the
first instalment with the sandbox; in Chromium. Screenshots of the pages go to
PLAN_SCREENSHOTS when that variable names a folder."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.db import db
from portal.models import Instalment, InstalmentPlan, Invoice
from tests.e2e.test_portal_journey import sign_in
from tests.factories import business_today, create_brand, create_debtor, create_invoice

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TODAY = business_today()


@pytest.fixture(scope="module")
def ria(live_server):
    brand = create_brand(name="Tuincentrum Groen", primary_color="#166534")
    debtor = create_debtor(brand, emails=["ria@example.com"], name="Ria Bakker", language="en")
    for number, cents, days in (("TG-301", 24000, 30), ("TG-302", 6000, 12)):
        create_invoice(
            debtor,
            number=number,
            total_cents=cents,
            invoice_date=TODAY - dt.timedelta(days=days + 14),
            due_date=TODAY - dt.timedelta(days=days),
        )
    return debtor


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("PLAN_SCREENSHOTS")
    if not folder:
        return
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_debtor_agrees_to_a_plan_and_pays_the_first_instalment(
    page: Page, live_server, ria, inbox
):
    base = live_server
    sign_in(page, base, inbox, "ria@example.com")
    page.goto(f"{base}/invoices")
    page.get_by_role("link", name="Ask for a payment plan").first.click()
    expect(page.get_by_role("heading", name="Ask for a payment plan")).to_be_visible()
    page.get_by_label("Number of instalments").fill("4")
    page.get_by_label("Number of instalments").press("Tab")  # its change updates the preview
    preview = page.locator("#plan-preview")
    expect(preview).to_contain_text("Total €300.00")
    expect(preview.get_by_role("row")).to_have_count(5)  # a header and four instalments
    expect(preview).to_contain_text("€75.00")
    shot(page, "plan-new")
    page.get_by_role("button", name="Agree to the plan").click()
    expect(page.get_by_text("Tick the box to agree to the plan.")).to_be_visible()
    page.get_by_label("I agree to this payment plan.").check()
    page.get_by_role("button", name="Agree to the plan").click()

    expect(page.get_by_role("heading", name="Payment plan")).to_be_visible()
    expect(page.get_by_text("Running")).to_be_visible()
    expect(page.get_by_text("Next: instalment 1, €75.00")).to_be_visible()
    shot(page, "plan-detail")
    confirmation = inbox.wait_for("ria@example.com")  # the agreed schedule, by mail
    assert str(confirmation["Subject"]).endswith(": running")
    inbox.clear()
    page.get_by_role("button", name="Pay instalment 1").click()
    expect(page.get_by_role("heading", name="Pay instalment 1 of 4")).to_be_visible()
    shot(page, "plan-pay")
    page.get_by_role("button", name="Pay €75.00").click()
    expect(page.get_by_text("Sandbox: test payments")).to_be_visible()
    page.get_by_label("Paid").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, your payment was received")).to_be_visible()
    assert "€75.00" in str(inbox.wait_for("ria@example.com")["Subject"])

    page.get_by_role("link", name="My requests").first.click()
    page.get_by_role("link", name="4 instalments, €300.00 in total").click()
    expect(page.get_by_text("Next: instalment 2, €75.00")).to_be_visible()
    expect(page.get_by_role("row", name="1").get_by_text("Paid")).to_be_visible()
    shot(page, "plan-after-payment")

    db.session.expire_all()
    plan = db.session.scalars(select(InstalmentPlan)).one()
    paid = db.session.scalars(select(Instalment.paid_cents).order_by(Instalment.seq)).all()
    assert (plan.status, paid) == ("active", [7500, 0, 0, 0])
    oldest = db.session.scalars(select(Invoice).where(Invoice.number == "TG-301")).one()
    assert (oldest.open_cents, oldest.hold_reason) == (16500, "plan")
    db.session.remove()  # let the server thread write again (SQLite: one writer)
