"""The admin walk under axe-core at WCAG 2.2 AA, at 1280 and 360 px: every page the menu
reaches, the pages one level down (a debtor, an invoice, a request, a plan, a payment, a
message editor, a brand, an outbox message, an import preview) and the error pages. The
walk fails on any violation and names every page and rule at once."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from admin import nav
from portal.db import db
from portal.domain.messaging.outbox import queue_email
from portal.models import Debtor, Payment
from tests.e2e.axe import describe, violations
from tests.imports.test_import import HEADER, csv_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
WIDTHS = (1280, 360)


@pytest.fixture(scope="module")
def demo(live_server: str, app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["seed-demo", "--quiet"])
    assert result.exit_code == 0, result.output
    # the demo has no payment and no mail yet: one of each, for their pages
    debtor = db.session.scalars(select(Debtor).order_by(Debtor.id)).first()
    assert debtor is not None
    db.session.add(
        Payment(
            public_id="walk-1",
            brand_id=debtor.brand_id,
            debtor_id=debtor.id,
            provider="sandbox",
            method="ideal",
            status="paid",
            amount_cents=12_500,
        )
    )
    queue_email(
        db.session(),
        kind="request_update",
        recipient=debtor.primary_email,
        subject="About your question",
        body_text="Thank you.",
        body_html="<p>Thank you.</p>",
        debtor_id=debtor.id,
    )
    db.session.commit()
    db.session.remove()
    return live_server


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/")
    page.get_by_label("Email address").fill("admin@example.com")
    page.get_by_label("Password").fill("demo-admin-2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def first_link(page: Page, base: str, listing: str, pattern: str) -> str:
    """The first link on a list page that matches `pattern` (a detail page to walk)."""
    page.goto(base + listing)
    hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
    found = next((h for h in hrefs if re.fullmatch(pattern, h.split("?")[0])), None)
    assert found, f"no link like {pattern} on {listing}"
    return found


def import_preview(page: Page, base: str, tmp_path) -> str:
    """Upload a file with a problem, a credit note and good rows; the preview's address."""
    rows = [
        HEADER,
        ["W-1", "K-1", "Walk B.V.", "walk@example.com", "01-10-2026", "", "10,00", "", "EUR", ""],
        ["W-2", "K-1", "Walk B.V.", "walk@example.com", "31-02-2026", "", "12,00", "", "EUR", ""],
        ["W-3", "K-1", "Walk B.V.", "walk@example.com", "01-10-2026", "", "-5,00", "", "EUR", ""],
    ]
    file = tmp_path / "walk.csv"
    file.write_bytes(csv_bytes(rows))
    page.goto(base + "/admin/imports")
    page.get_by_label("File", exact=True).set_input_files(str(file))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", name="Check the import")).to_be_visible()
    return page.url.removeprefix(base)


def test_every_admin_page_passes_axe_at_both_widths(page: Page, demo: str, app: Flask, tmp_path):
    base = demo
    sign_in(page, base)
    with app.test_request_context():
        from flask import url_for

        paths = [url_for("admin.dashboard"), url_for("admin.two_factor")]
        paths += [url_for(entry.endpoint) for entry in nav.entries()]
    paths += [
        first_link(page, base, "/admin/debtors", r"/admin/debtors/\d+"),
        first_link(page, base, "/admin/invoices?status=all", r"/admin/invoices/\d+"),
        first_link(page, base, "/admin/requests?state=all", r"/admin/requests/\d+"),
        first_link(page, base, "/admin/plans", r"/admin/plans/\d+"),
        first_link(page, base, "/admin/payments", r"/admin/payments/\d+"),
        first_link(page, base, "/admin/messages", r"/admin/messages/\d+/[a-z_]+/[a-z]{2}"),
        first_link(page, base, "/admin/brands", r"/admin/brands/\d+"),
        first_link(page, base, "/admin/outbox", r"/admin/outbox/\d+"),
        first_link(page, base, "/admin/segments", r"/admin/segments/\d+/plan-policy"),
        "/admin/insight/invoices?bucket=31-60",
        "/admin/no-such-page",
        import_preview(page, base, tmp_path),
    ]
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for path in paths:
            response = page.goto(base + path)
            assert response is not None and response.status in (200, 404), path
            found = violations(page)
            if found:
                problems.append(f"{path} at {width} px:\n{describe(found)}")
    assert not problems, "\n".join(problems)


def test_the_menu_open_passes_axe(page: Page, demo: str):
    sign_in(page, demo)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        menu = page.get_by_role("navigation", name="Admin menu")
        menu.locator("summary", has_text="Collection").click()
        expect(menu.get_by_role("link", name="Requests", exact=True)).to_be_visible()
        found = violations(page)
        assert not found, describe(found)
        page.keyboard.press("Escape")
