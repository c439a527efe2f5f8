import pytest

from portal.db import db
from portal.domain import embed
from tests.admin.test_admin import admin_login, page_csrf
from tests.api.test_api import auth, body, make_key
from tests.factories import create_admin


def test_origins_are_plain_site_addresses():
    assert embed.parse_origins(
        "https://Shop.example.com/\n\nhttp://localhost:8080", production=False
    ) == ["https://shop.example.com", "http://localhost:8080"]
    for bad in ("https://shop.example.com/pay", "*", "https://*.example.com", "javascript:x"):
        with pytest.raises(embed.BadOrigin):
            embed.parse_origins(bad, production=False)
    with pytest.raises(embed.BadOrigin):
        embed.parse_origins("http://shop.example.com", production=True)


def test_pay_page_may_be_framed_only_by_the_brands_sites_and_pays_in_the_top_window(client):
    key, raw = make_key()
    created = client.post("/api/v1/pay-links", json=body(), headers=auth(raw)).json
    path = created["url"].removeprefix("http://portal.test")
    assert "frame-ancestors 'none'" in client.get(path).headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in client.get("/login").headers["Content-Security-Policy"]

    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    token = page_csrf(client, "/admin/api-keys")
    refused = client.post(
        f"/admin/api-keys/framing/{key.brand_id}",
        data={"csrf_token": token, "origins": "https://shop.example.com/checkout"},
    )
    assert refused.status_code == 422
    saved = client.post(
        f"/admin/api-keys/framing/{key.brand_id}",
        data={"csrf_token": token, "origins": "https://shop.example.com"},
    )
    assert saved.status_code == 303
    assert embed.origins_of(db.session(), key.brand_id) == ["https://shop.example.com"]

    page = client.get(path)
    csp = page.headers["Content-Security-Policy"]
    assert (
        "frame-ancestors https://shop.example.com" in csp
        and "'none'" not in csp.split("frame-ancestors")[1]
    )
    assert "frame-ancestors 'none'" in client.get("/login").headers["Content-Security-Policy"]
    framed = client.get(path, headers={"Sec-Fetch-Dest": "iframe"}).get_data(as_text=True)
    assert 'target="_top"' in framed and 'name="method"' not in framed
    assert 'name="method"' in client.get(path).get_data(as_text=True)
