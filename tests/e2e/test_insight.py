"""An admin drills from a bar of the ageing chart to the invoices behind it, in Chromium.
Screenshots of the insight pages go to INSIGHT_SCREENSHOTS when that variable names a
folder."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from portal.db import db
from portal.domain.insight import refresh
from tests.e2e.conftest import open_admin_page
from tests.factories import (
    business_today,
    create_admin,
    create_brand,
    create_debtor,
    create_invoice,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TODAY = business_today()


@pytest.fixture(scope="module")
def figures(live_server):
    brand = create_brand(name="Zonnestroom Utrecht")
    late = create_debtor(brand, name="Kees Laat")
    on_time = create_debtor(brand, name="Ria Tijdig")
    for number, debtor, days_overdue, cents in (
        ("ZU-3101", late, 40, 31_000),  # 31-60 days
        ("ZU-3102", late, 45, 12_500),  # 31-60 days
        ("ZU-0901", late, 9, 9_000),  # 1-30 days
        ("ZU-0001", on_time, -5, 20_000),  # not due
    ):
        due = TODAY - dt.timedelta(days=days_overdue)
        create_invoice(
            debtor,
            number=number,
            invoice_date=due - dt.timedelta(days=14),
            due_date=due,
            total_cents=cents,
            open_cents=cents,
        )
    create_admin("boss@example.com", password="a strong admin password")
    refresh.run(db.session(), TODAY, "Europe/Amsterdam")
    db.session.remove()


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("INSIGHT_SCREENSHOTS")
    if not folder:
        return
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_bar_of_the_ageing_chart_drills_down_to_its_invoices(page: Page, live_server, figures):
    base = live_server
    page.goto(f"{base}/admin/")
    page.get_by_label("Email address").fill("boss@example.com")
    page.get_by_label("Password").fill("a strong admin password")
    page.get_by_role("button", name="Sign in").click()
    open_admin_page(page, "Insight", "DSO and ageing")
    expect(page.get_by_role("heading", name="DSO over the last 12 months")).to_be_visible()
    shot(page, "insight")

    drill = page.locator("#drill")
    expect(drill).to_be_empty()
    bar = page.locator("svg.chart a.figure").filter(
        has=page.locator("title", has_text="31–60 days")
    )
    bar.click()
    # htmx swapped the invoices in under the charts: the page itself stayed
    expect(drill.get_by_role("heading", name="31–60 days")).to_be_visible()
    assert page.url.rstrip("/").endswith("/admin/insight")
    expect(drill.get_by_role("link", name="ZU-3101")).to_be_visible()
    expect(drill.get_by_role("link", name="ZU-3102")).to_be_visible()
    expect(drill.get_by_role("row")).to_have_count(3)  # a header and the two invoices
    expect(drill.get_by_role("link", name="ZU-0901")).to_have_count(0)
    shot(page, "insight-drill")

    # the same figure in the table beside the chart, for keyboards and screen readers
    page.get_by_role("table", name="All invoices").get_by_role("link", name="€90.00").click()
    expect(drill.get_by_role("heading", name="1–30 days")).to_be_visible()
    expect(drill.get_by_role("link", name="ZU-0901")).to_be_visible()

    drill.get_by_role("link", name="ZU-0901").click()
    expect(page.get_by_role("heading", name="ZU-0901")).to_be_visible()
