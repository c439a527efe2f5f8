"""The admin menu: groups defined once in admin/nav.py, every entry opens, clerks see only
what they may open, the page shown is marked, and error pages keep the admin's layout."""

from __future__ import annotations

import re

from flask import url_for

from admin import nav
from tests.admin.test_admin import admin_login
from tests.factories import create_admin, create_brand


def menu_links(html: str) -> list[str]:
    block = html[
        html.index('<nav class="admin-nav"') : html.index(
            "</nav>", html.index('<nav class="admin-nav"')
        )
    ]
    return re.findall(r'<a href="([^"]+)"', block)


def test_every_entry_of_the_menu_opens_for_a_full_admin(client, app):
    create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    links = menu_links(client.get("/admin/").get_data(as_text=True))
    with app.test_request_context():
        expected = [url_for("admin.dashboard")] + [url_for(e.endpoint) for e in nav.entries()]
    assert links == expected
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
        page = response.get_data(as_text=True)
        # the page shown is marked current in the menu, exactly once
        assert page.count('aria-current="page"') >= 1
        assert f'<a href="{link}" aria-current="page">' in page, link


def test_a_clerk_sees_only_the_pages_a_clerk_may_open(client, app):
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    links = menu_links(client.get("/admin/").get_data(as_text=True))
    with app.test_request_context():
        hidden = {url_for(e.endpoint) for e in nav.entries() if e.full_admin}
        shown = {url_for(e.endpoint) for e in nav.entries() if not e.full_admin}
    assert hidden and not hidden & set(links)
    assert shown <= set(links)
    for link in hidden:  # the pages refuse them too, not only the menu
        assert client.get(link).status_code == 403, link


def test_pages_below_an_entry_mark_their_group(client):
    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    page = client.get(f"/admin/brands/{brand.id}").get_data(as_text=True)
    assert 'nav-group nav-group-current" data-nav-group="settings"' in page
    assert '<a href="/admin/brands" aria-current="page">' in page
    policy = client.get("/admin/plans").get_data(as_text=True)
    assert 'nav-group nav-group-current" data-nav-group="collection"' in policy


def test_error_pages_keep_the_admin_layout_and_menu(client):
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    for path, code, title in (
        ("/admin/no-such-page", 404, "Page not found"),
        ("/admin/brands", 403, "No access"),
    ):
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == code
        assert title in page and '<nav class="admin-nav"' in page


def test_a_stale_admin_form_is_refused_in_the_admin_layout(client):
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    response = client.post("/admin/users", data={"csrf_token": "stale"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please try again" in page and '<nav class="admin-nav"' in page
