"""A debtor disputes an invoice with a photo; an admin credits part of it; in Chromium.
Screenshots of the pages go to REQUEST_SCREENSHOTS when that variable names a folder."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.db import db
from portal.models import Invoice
from tests.e2e.conftest import open_admin_page
from tests.e2e.test_portal_journey import sign_in
from tests.factories import (
    ADMIN_PASSWORD,
    business_today,
    create_admin,
    create_brand,
    create_debtor,
    create_invoice,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TODAY = business_today()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def people(live_server):
    brand = create_brand(name="Brouwerij De Klok", primary_color="#7c2d12")
    debtor = create_debtor(brand, emails=["klant@example.com"], name="Kees de Klant", language="en")
    invoice = create_invoice(
        debtor,
        number="DK-2026-042",
        total_cents=24200,
        invoice_date=TODAY - dt.timedelta(days=30),
        due_date=TODAY - dt.timedelta(days=16),
    )
    create_admin("boss@example.com")
    return {"debtor": debtor, "invoice": invoice}


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("REQUEST_SCREENSHOTS")
    if not folder:
        return
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_debtor_disputes_and_the_admin_credits_part(
    page: Page, live_server, people, inbox, tmp_path
):
    base = live_server
    invoice = people["invoice"]
    sign_in(page, base, inbox, "klant@example.com")
    page.goto(f"{base}/invoices/{invoice.id}")
    shot(page, "invoice-actions")
    page.get_by_role("button", name="Dispute this invoice").click()
    expect(page.get_by_role("heading", name="Dispute invoice DK-2026-042")).to_be_visible()
    page.get_by_label("What is wrong?").select_option("amount_wrong")
    page.get_by_label("Explain what is wrong").fill("You billed two crates; we got one.")
    photo = tmp_path / "delivery.png"
    photo.write_bytes(PNG)
    page.get_by_label("Add a document").set_input_files(str(photo))
    shot(page, "dispute-form")
    page.get_by_role("button", name="Send dispute").click()
    expect(page.get_by_role("heading", name="My requests")).to_be_visible()
    expect(page.get_by_text("Reminders for this invoice wait")).to_be_visible()
    expect(page.get_by_role("cell", name="Received")).to_be_visible()
    page.goto(f"{base}/invoices/{invoice.id}")
    expect(page.get_by_text("Disputed", exact=True)).to_be_visible()
    page.goto(f"{base}/requests")
    shot(page, "my-requests")

    admin = page.context.browser.new_page()  # type: ignore[union-attr]
    admin.goto(f"{base}/admin/login")
    admin.get_by_label("Email address").fill("boss@example.com")
    admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Sign in").click()
    expect(admin.get_by_text("Dispute: 1")).to_be_visible()
    open_admin_page(admin, "Collection", "Requests")
    shot(admin, "admin-inbox")
    admin.get_by_role("link", name="Dispute").first.click()
    expect(admin.get_by_role("link", name="delivery.png")).to_be_visible()
    admin.get_by_label("Credit (part of) the invoice").check()
    admin.get_by_label("Credit amount").fill("121,00")
    admin.get_by_label("Answer for the customer").fill("Sorry: we credit the second crate.")
    shot(admin, "admin-request")
    admin.get_by_role("button", name="Decide and send").click()
    expect(admin.get_by_text("Decided; the customer gets your answer by email.")).to_be_visible()
    admin.close()

    db.session.expire_all()
    fresh = db.session.scalars(select(Invoice).where(Invoice.id == invoice.id)).one()
    assert (fresh.open_cents, fresh.hold_reason) == (12100, "")
    db.session.remove()  # let the server thread write again (SQLite: one writer)
    page.goto(f"{base}/requests")
    expect(page.get_by_role("cell", name="Resolved")).to_be_visible()
    page.get_by_role("link", name="Dispute").click()
    expect(page.get_by_text("Sorry: we credit the second crate.")).to_be_visible()
    assert "Sorry: we credit the second crate." in str(inbox.wait_for("klant@example.com"))
