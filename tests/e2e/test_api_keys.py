"""An admin creates an API key, copies it once, and revokes it after confirming."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import open_admin_page
from tests.factories import create_admin, create_brand

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
SHOTS = os.environ.get("SCREENSHOT_DIR", "")  # set it to look at the pages at 1280 and 360 px


@pytest.fixture(scope="module")
def setup(live_server):
    create_brand(name="Zonnestroom Utrecht", slug="zon")
    create_admin("boss@example.com", password="a strong admin password")


def shoot(page: Page, name: str) -> None:
    if not SHOTS:
        return
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_admin_creates_a_key_sees_it_once_and_revokes_it(page: Page, live_server, setup):
    base = live_server
    page.goto(f"{base}/admin/")
    page.get_by_label("Email address").fill("boss@example.com")
    page.get_by_label("Password").fill("a strong admin password")
    page.get_by_role("button", name="Sign in").click()
    open_admin_page(page, "Settings", "API keys")
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    page.get_by_label("Label").fill("Webshop")
    page.get_by_role("radio", name=re.compile("Test: sandbox")).check()
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("API key", exact=True)
    expect(key).to_have_value(re.compile(r"^bp_test_"))
    raw = key.input_value()
    expect(page.get_by_text("it is shown only this once")).to_be_visible()
    shoot(page, "api-keys-new")

    open_admin_page(page, "Settings", "API keys")
    expect(page.get_by_role("cell", name="Webshop", exact=True)).to_be_visible()
    assert raw not in page.content()
    page.get_by_role("button", name="Allow invoices for existing customers, key Webshop").click()
    expect(
        page.get_by_text("Key Webshop may now add invoices to existing customers")
    ).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("^may add invoices"))).to_be_visible()
    response = page.request.get(
        f"{base}/api/v1/pay-links", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status == 200
    shoot(page, "api-keys")

    page.get_by_role("link", name="Revoke…").click()
    page.get_by_role("button", name="Yes, revoke the key").click()
    expect(page.get_by_role("cell", name="revoked")).to_be_visible()
    response = page.request.get(
        f"{base}/api/v1/pay-links", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status == 401


def test_a_webhook_address_on_this_machine_is_refused_in_the_page(page: Page, live_server, setup):
    base = live_server
    page.goto(f"{base}/admin/")
    if page.get_by_label("Password").count():
        page.get_by_label("Email address").fill("boss@example.com")
        page.get_by_label("Password").fill("a strong admin password")
        page.get_by_role("button", name="Sign in").click()
    page.goto(f"{base}/admin/webhooks")
    page.get_by_label("Address (https)").fill("http://localhost/x")
    page.get_by_role("button", name="Save address").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("Address (https)")).to_have_value("http://localhost/x")
    from sqlalchemy import select

    from portal.db import db
    from portal.models import WebhookEndpoint

    db.session.remove()
    assert db.session.scalars(select(WebhookEndpoint.url)).all() == []  # nothing was saved
    shoot(page, "webhooks-refused")
