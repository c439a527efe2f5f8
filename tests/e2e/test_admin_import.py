"""An admin imports a batch in the browser; the debtor then finds the invoice in the portal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import open_admin_page
from tests.e2e.test_portal_journey import sign_in
from tests.factories import create_admin, create_brand
from tests.imports.test_import import HEADER, csv_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def setup(live_server):
    create_brand(name="Brouwerij De Klok", slug="klok")
    create_admin("boss@example.com", password="a strong admin password")


def test_admin_maps_columns_sees_errors_then_imports_a_corrected_file(
    page: Page, live_server, setup, inbox, tmp_path
):
    base = live_server
    page.goto(f"{base}/admin/")
    page.get_by_label("Email address").fill("boss@example.com")
    page.get_by_label("Password").fill("a strong admin password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    odd = tmp_path / "export.csv"
    odd.write_bytes(
        csv_bytes(
            [
                ["Nr", "Klant", "Mail", "Wanneer", "Hoeveel"],
                ["K-26001", "K1", "lotte@example.com", "01-11-2026", "45,00"],
                ["K-26002", "K1", "lotte@example.com", "31-02-2026", "12,00"],
            ]
        )
    )
    open_admin_page(page, "Receivables", "Imports")
    page.get_by_label("File", exact=True).set_input_files(str(odd))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_text("choose the columns by hand")).to_be_visible()

    page.get_by_label("Invoice number").select_option(label="Nr")
    page.get_by_label("Customer number").select_option(label="Klant")
    page.get_by_label("E-mail").select_option(label="Mail")
    page.get_by_label("Invoice date").select_option(label="Wanneer")
    page.get_by_role("combobox", name=re.compile(r"^Amount")).select_option(label="Hoeveel")
    page.get_by_role("button", name="Check again with these columns").click()
    expect(page.get_by_role("cell", name="31-02-2026", exact=True)).to_be_visible()
    expect(page.get_by_text("is not a date we can read")).to_be_visible()
    expect(page.get_by_text("Nothing is imported while there are errors")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Import"))).to_have_count(0)

    fixed = tmp_path / "export-fixed.csv"
    fixed.write_bytes(
        csv_bytes(
            [
                HEADER,
                [
                    "K-26001",
                    "K1",
                    "Lotte Peeters",
                    "lotte@example.com",
                    "01-11-2026",
                    "15-11-2026",
                    "45,00",
                    "45,00",
                    "EUR",
                    "Fust",
                ],
                [
                    "K-26002",
                    "K1",
                    "Lotte Peeters",
                    "lotte@example.com",
                    "28-02-2026",
                    "14-03-2026",
                    "12,00",
                    "12,00",
                    "EUR",
                    "Proeverij",
                ],
            ]
        )
    )
    page.get_by_role("link", name="Upload a corrected file").click()
    page.get_by_label("File", exact=True).set_input_files(str(fixed))
    page.get_by_role("button", name="Upload and check").click()
    page.get_by_role("button", name="Import 2 invoices").click()
    expect(page.get_by_role("heading", name="Import done")).to_be_visible()

    page.context.clear_cookies()
    sign_in(page, base, inbox, "lotte@example.com")
    page.goto(f"{base}/invoices?status=all")
    expect(page.get_by_role("link", name="K-26001")).to_be_visible()
    expect(page.get_by_role("link", name="K-26002")).to_be_visible()
