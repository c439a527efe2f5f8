"""A debtor's visit, as a person makes it, in real Chromium."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.conftest import link_in
from tests.factories import business_today, create_brand, create_debtor, create_invoice

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TODAY = business_today()


@pytest.fixture(scope="module")
def people(live_server):
    brand = create_brand(name="Zonnestroom Utrecht", primary_color="#0f766e")
    anna = create_debtor(brand, emails=["anna@example.com"], name="Anna Visser", language="en")
    bram = create_debtor(brand, emails=["bram@example.com"], name="Bram Smit", language="en")
    overdue = create_invoice(
        anna,
        number="ZU-2026-001",
        total_cents=125000,
        invoice_date=TODAY - dt.timedelta(days=40),
        due_date=TODAY - dt.timedelta(days=26),
    )
    create_invoice(anna, number="ZU-2026-002", total_cents=8995, invoice_date=TODAY)
    create_invoice(anna, number="ZU-2025-099", total_cents=4500, open_cents=0, status="paid")
    for i in range(30):
        create_invoice(anna, number=f"ZU-2026-1{i:02d}", total_cents=1000 + i, invoice_date=TODAY)
    create_invoice(bram, number="ZU-2026-777", total_cents=3300)
    return {"anna": anna, "bram": bram, "overdue": overdue}


def sign_in(page: Page, base: str, inbox, email: str) -> None:
    inbox.clear()
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Send me a login link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    link = link_in(inbox.wait_for(email))
    assert link.startswith(base)
    page.goto(link)
    expect(page.get_by_role("button", name="Continue to your invoices")).to_be_visible()
    page.get_by_role("button", name="Continue to your invoices").click()


def test_a_debtor_signs_in_finds_an_invoice_downloads_it_and_signs_out(
    page: Page, live_server, people, inbox, tmp_path
):
    base = live_server
    inbox.clear()
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill("anna@example.com")
    page.get_by_role("button", name="Send me a login link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    link = link_in(inbox.wait_for("anna@example.com"))
    assert link.startswith(f"{base}/login/")

    page.goto(link)  # what a mail scanner does too: it must not sign anyone in
    expect(page.get_by_role("button", name="Continue to your invoices")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    page.goto(f"{base}/overview")
    expect(page).to_have_url(f"{base}/login")
    page.goto(link)  # the GET did not use the link up either
    page.get_by_role("button", name="Continue to your invoices").click()
    expect(page).to_have_url(f"{base}/overview")
    expect(page.get_by_role("heading", name="Hello Anna Visser")).to_be_visible()
    total_open = (
        page.get_by_role("region", name="Summary")
        .get_by_role("article")
        .filter(has=page.get_by_role("heading", name="Total open"))
    )
    expect(total_open).to_contain_text("€1,644.30")  # 1,250.00 + 89.95 + 30 small ones
    expect(total_open).to_contain_text("32 open invoices")
    expect(page.get_by_text("Overdue 26 days")).to_be_visible()

    page.get_by_role("link", name="Invoices", exact=True).click()
    expect(page.get_by_text("32 invoices")).to_be_visible()
    page.evaluate("window.__noReload = true")
    page.get_by_label("Paid").check()
    expect(page.get_by_text("1 invoice", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="ZU-2025-099")).to_be_visible()
    page.get_by_label("All").check()
    expect(page.get_by_text("33 invoices")).to_be_visible()
    page.get_by_label("Search invoices").fill("2026-001")
    expect(page.locator(".result-count")).to_have_text(re.compile(r"^1 invoice\b"))
    expect(page.get_by_role("link", name="ZU-2026-002")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"q=2026-001"))  # the address can be shared or reloaded
    assert page.evaluate("window.__noReload") is True  # htmx swapped, no full reload

    page.get_by_role("link", name="ZU-2026-001").click()
    expect(page.get_by_role("heading", name="Invoice ZU-2026-001")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download a copy (PDF)").click()
    path = tmp_path / "copy.pdf"
    download = download_info.value
    assert download.suggested_filename == "invoice-ZU-2026-001.pdf"
    download.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    assert "ZU-2026-001" in PdfReader(path).pages[0].extract_text()

    languages = page.get_by_role("form", name="Language")
    expect(languages.get_by_role("button")).to_have_count(2)  # the other two languages
    languages.get_by_role("button", name="NL Nederlands").click()  # one click, no extra button
    expect(page.get_by_role("heading", name="Factuur ZU-2026-001")).to_be_visible()
    menu = page.get_by_role("banner")
    expect(menu.get_by_role("link", name="Facturen", exact=True)).to_be_visible()
    expect(menu.get_by_role("link", name="Overzicht", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "nl")

    page.get_by_role("button", name="Uitloggen").click()
    expect(page).to_have_url(f"{base}/login")  # the address bar is a page that reloads
    expect(page.get_by_role("status")).to_have_text("U bent uitgelogd. Bedankt voor uw bezoek.")
    page.reload()
    expect(page.get_by_label("E-mailadres")).to_be_visible()
    page.goto(f"{base}/overview")
    expect(page).to_have_url(f"{base}/login")


def test_another_debtor_cannot_see_the_first_ones_invoice(page: Page, live_server, people, inbox):
    base = live_server
    sign_in(page, base, inbox, "bram@example.com")
    expect(page.get_by_role("heading", name="Hello Bram Smit")).to_be_visible()
    overdue_id = people["overdue"].id
    for path in (f"/invoices/{overdue_id}", f"/invoices/{overdue_id}/pdf"):
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.goto(f"{base}/invoices?status=all")
    expect(page.get_by_role("link", name="ZU-2026-777")).to_be_visible()
    expect(page.get_by_text("ZU-2026-001")).to_have_count(0)
    assert "ZU-2026-001" not in page.content()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (360, 740)])
def test_pages_fit_the_screen(page: Page, live_server, people, inbox, width, height):
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, live_server, inbox, "anna@example.com")
    shots = os.environ.get("SCREENSHOT_DIR")
    for path in ("/overview", "/invoices?status=all"):
        page.goto(f"{live_server}{path}")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{path} scrolls sideways at {width}px"
        if shots:
            name = path.strip("/").split("?")[0]
            page.screenshot(path=str(Path(shots) / f"{name}-{width}.png"), full_page=True)
    # keyboard: the skip link is the first thing Tab reaches
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
