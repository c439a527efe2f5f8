"""Paying many invoices at once in Chromium: every overdue invoice over two pages in one
click, and ticks that are remembered across pages and filters."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.db import db
from portal.models import Invoice
from tests.e2e.axe import assert_accessible
from tests.e2e.test_portal_journey import sign_in
from tests.factories import business_today, create_brand, create_debtor, create_invoice

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TODAY = business_today()


@pytest.fixture(scope="module")
def dirk(live_server):
    brand = create_brand(name="Bakkerij Deeg", primary_color="#92400e")
    debtor = create_debtor(brand, emails=["dirk@example.com"], name="Dirk Deeg", language="en")
    for i in range(30):  # 30 overdue invoices of €10.00 to €12.90: two pages of 25
        create_invoice(
            debtor,
            number=f"BD-{i:03d}",
            total_cents=1000 + 10 * i,
            invoice_date=TODAY - dt.timedelta(days=60 - i),
            due_date=TODAY - dt.timedelta(days=46 - i),
        )
    create_invoice(debtor, number="BD-NEW", total_cents=5000, due_date=TODAY + dt.timedelta(days=9))
    return debtor


def test_a_debtor_with_invoices_on_two_pages_pays_all_overdue_in_one_click(
    page: Page, live_server, dirk, inbox
):
    base = live_server
    sign_in(page, base, inbox, "dirk@example.com")
    page.goto(f"{base}/invoices")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    overdue_total = sum(1000 + 10 * i for i in range(30))  # €343.50
    assert overdue_total == 34350
    page.get_by_role("button", name="Pay all overdue (€343.50)").click()

    expect(page.get_by_role("heading", name="Pay 30 invoices")).to_be_visible()
    expect(page.get_by_role("cell", name="BD-029")).to_be_visible()  # from the second page
    expect(page.get_by_role("cell", name="BD-NEW")).to_have_count(0)  # not yet due
    page.get_by_role("button", name="Pay €343.50").click()
    page.get_by_label("Paid").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Thank you, your payment was received")).to_be_visible()

    db.session.expire_all()
    still_open = db.session.scalars(select(Invoice.number).where(Invoice.open_cents > 0)).all()
    assert still_open == ["BD-NEW"]
    db.session.remove()  # let the server thread write again (SQLite: one writer)


@pytest.fixture(scope="module")
def eva(live_server):
    brand = create_brand(name="Kaasboer Edam", primary_color="#1e40af")
    debtor = create_debtor(brand, emails=["eva@example.com"], name="Eva Edam", language="en")
    for i in range(27):
        create_invoice(
            debtor,
            number=f"KE-{i:03d}",
            total_cents=2000,
            invoice_date=TODAY - dt.timedelta(days=20),
            due_date=TODAY + dt.timedelta(days=i),
        )
    return debtor


def test_ticks_survive_paging_and_filters(page: Page, live_server, dirk, eva, inbox):
    base = live_server
    sign_in(page, base, inbox, "eva@example.com")
    page.goto(f"{base}/invoices")
    page.get_by_label("Select invoice KE-000 to pay").check()
    expect(page.locator("#pay-bar")).to_contain_text("1 invoice selected")
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    page.get_by_label("Select invoice KE-026 to pay").check()
    expect(page.locator("#pay-bar")).to_contain_text("2 invoices selected")
    expect(page.locator("#pay-bar")).to_contain_text("€40.00")
    assert_accessible(page, "the list with ticks on two pages")
    page.get_by_label("Search invoices").fill("KE-01")  # a filter hides both ticked ones
    expect(page.locator(".result-count")).to_contain_text("10 invoices")
    expect(page.locator("#pay-bar")).to_contain_text("2 invoices selected")
    page.get_by_label("Search invoices").fill("")
    expect(page.get_by_label("Select invoice KE-000 to pay")).to_be_checked()  # page 1 again
    page.get_by_role("button", name="Pay selected invoices").click()
    expect(page.get_by_role("heading", name="Pay 2 invoices")).to_be_visible()
    expect(page.get_by_role("cell", name="KE-026")).to_be_visible()

    page.goto(f"{base}/invoices")
    page.get_by_role("button", name="Clear selection").click()
    expect(page.get_by_label("Select invoice KE-000 to pay")).not_to_be_checked()
    page.get_by_role("button", name="Select all").click()
    expect(page.locator("#pay-bar")).to_contain_text("27 invoices selected")
    expect(page.locator("#pay-bar")).to_contain_text("€540.00")
    expect(page.get_by_label("Select invoice KE-003 to pay")).to_be_checked()


def test_focus_is_never_hidden_under_the_sticky_pay_bar(page: Page, live_server, eva, inbox):
    """WCAG 2.4.11: tabbing down the list on a phone, every focused box stays in view
    above the pay bar (the page's scroll padding leaves room for it)."""
    base = live_server
    sign_in(page, base, inbox, "eva@example.com")
    page.set_viewport_size({"width": 360, "height": 640})
    page.goto(f"{base}/invoices")
    page.get_by_label("Select invoice KE-001 to pay").check()  # the bar grows: 2 lines
    page.get_by_label("Select invoice KE-001 to pay").focus()
    for _ in range(12):
        page.keyboard.press("Tab")
        box = page.evaluate(
            """() => {
                const r = document.activeElement.getBoundingClientRect();
                const bar = document.querySelector('#pay-bar').getBoundingClientRect();
                return {bottom: r.bottom, top: r.top, bar: bar.top,
                        inBar: !!document.activeElement.closest('#pay-bar')};
            }"""
        )
        if box["inBar"]:
            break
        assert box["bottom"] <= box["bar"], box  # above the pay bar, not under it
        assert box["top"] >= 0, box
