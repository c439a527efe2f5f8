"""The admin menu with the keyboard and on a phone: groups open with Enter, Escape closes
them, the current page is marked."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.factories import create_admin, create_brand

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def setup(live_server):
    create_brand(name="Zon B.V.")
    create_admin("boss@example.com", password="a strong admin password")


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/")
    page.get_by_label("Email address").fill("boss@example.com")
    page.get_by_label("Password").fill("a strong admin password")
    page.get_by_role("button", name="Sign in").click()


def test_the_menu_works_with_the_keyboard(page: Page, live_server, setup):
    sign_in(page, live_server)
    menu = page.get_by_role("navigation", name="Admin menu")
    payments = menu.get_by_role("link", name="Payments", exact=True)
    expect(payments).to_be_hidden()
    money = menu.locator("summary", has_text="Money")
    money.focus()
    page.keyboard.press("Enter")
    expect(payments).to_be_visible()
    page.keyboard.press("Escape")  # closes the group, the focus stays on its heading
    expect(payments).to_be_hidden()
    expect(money).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(payments).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Payments", exact=True)).to_be_visible()
    money.click()
    expect(menu.get_by_role("link", name="Payments", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    # opening another group closes the first
    menu.locator("summary", has_text="Settings").click()
    expect(menu.get_by_role("link", name="Brands", exact=True)).to_be_visible()
    expect(menu.get_by_role("link", name="Payments", exact=True)).to_be_hidden()


def test_on_a_phone_every_group_is_on_the_first_screen(page: Page, live_server, setup):
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(page, live_server)
    menu = page.get_by_role("navigation", name="Admin menu")
    for group in ("Receivables", "Collection", "Money", "Insight", "Settings"):
        summary = menu.locator("summary", has_text=group)
        expect(summary).to_be_in_viewport()
    header = page.locator("header").bounding_box()
    assert header is not None and header["height"] < 200
    menu.locator("summary", has_text="Collection").click()
    menu.get_by_role("link", name="Requests", exact=True).click()
    expect(page.get_by_role("heading", name="Requests", exact=True)).to_be_visible()
