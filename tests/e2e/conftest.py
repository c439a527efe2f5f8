"""Browser tests: the app served from a thread, driven by Debian's Chromium via Playwright.

Per-test rollback cannot reach the server thread, so these tests work on committed data:
each module starts from empty tables and leaves them empty.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page
from werkzeug.serving import make_server

from portal.db import db
from portal.extensions import limiter
from tests.conftest import empty_tables

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "en-GB"}


@pytest.fixture(scope="module")
def live_server(app: Flask) -> Iterator[str]:
    """Serve the app on a free port; mailed links point at it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    saved_settings, saved_name = app.config["SETTINGS"], app.config["SERVER_NAME"]
    app.config["SETTINGS"] = dataclasses.replace(saved_settings, base_url=url)
    app.config["SERVER_NAME"] = None
    app.config["SANDBOX_WEBHOOKS_OFF"] = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    empty_tables()
    limiter.reset()  # earlier tests in this process may have used up the login limits
    try:
        yield url
    finally:
        server.shutdown()
        thread.join(5)
        db.session.remove()
        empty_tables()
        app.config["SETTINGS"], app.config["SERVER_NAME"] = saved_settings, saved_name
        app.config["SANDBOX_WEBHOOKS_OFF"] = True


def open_admin_page(page: Page, group: str, entry: str) -> None:
    """Go to an admin page through the menu, as a person does: open the group, click."""
    page.get_by_role("navigation", name="Admin menu").locator("summary", has_text=group).click()
    page.get_by_role("navigation", name="Admin menu").get_by_role(
        "link", name=entry, exact=True
    ).click()
