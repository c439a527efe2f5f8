import re

from sqlalchemy import select

from portal.db import db
from portal.domain import api
from portal.models import ApiKey
from tests.admin.test_admin import admin_login, page_csrf
from tests.factories import create_admin, create_brand

KEY_RE = re.compile(r'value="(bp_(?:live|test)_[A-Za-z0-9_-]+)"')


def test_admin_creates_a_key_shown_once_and_revokes_it_after_confirming(client):
    brand = create_brand(name="Zon")
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    token = page_csrf(client, "/admin/api-keys")
    response = client.post(
        "/admin/api-keys",
        data={"csrf_token": token, "brand_id": brand.id, "label": "Webshop", "mode": "test"},
    )
    assert response.status_code == 200
    raw = KEY_RE.search(response.get_data(as_text=True)).group(1)
    assert raw.startswith("bp_test_")
    assert response.headers["Cache-Control"] == "no-store"
    key = db.session.scalars(select(ApiKey)).one()
    assert key.key_hash == api.hash_key(raw) and key.test_mode and key.label == "Webshop"
    listing = client.get("/admin/api-keys").get_data(as_text=True)
    assert "<title>API keys · Betaalportaal admin</title>" in listing  # only words in the title
    assert raw not in listing and key.prefix in listing  # shown once only

    confirm = client.get(f"/admin/api-keys/{key.id}/revoke")
    assert confirm.status_code == 200 and "Yes, revoke" in confirm.get_data(as_text=True)
    assert db.session.get(ApiKey, key.id).revoked_at is None  # a GET changes nothing
    done = client.post(f"/admin/api-keys/{key.id}/revoke", data={"csrf_token": token})
    assert done.status_code == 303
    assert db.session.get(ApiKey, key.id).revoked_at is not None
    refused = client.get("/api/v1/pay-links", headers={"Authorization": f"Bearer {raw}"})
    assert refused.status_code == 401


def test_clerks_cannot_manage_keys_and_labels_are_required(client):
    brand = create_brand()
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    assert client.get("/admin/api-keys").status_code == 403
    create_admin("boss2@example.com")
    other = client.application.test_client()
    admin_login(other, "boss2@example.com")
    token = page_csrf(other, "/admin/api-keys")
    response = other.post(
        "/admin/api-keys", data={"csrf_token": token, "brand_id": brand.id, "label": ""}
    )
    assert response.status_code == 422
    assert db.session.scalars(select(ApiKey)).all() == []


def test_only_a_full_admin_lets_a_key_reach_existing_customers_and_it_is_audited(client):
    from portal.models import AuditEvent

    brand = create_brand()
    key, _ = api.create_key(db.session(), brand, "Webshop", test_mode=False, actor="test")
    db.session.commit()
    create_admin("clerk@example.com", role="clerk")
    clerk = client.application.test_client()
    admin_login(clerk, "clerk@example.com")
    clerk_token = page_csrf(clerk, "/admin/debtors")
    refused = clerk.post(
        f"/admin/api-keys/{key.id}/existing-customers",
        data={"csrf_token": clerk_token, "allow": "1"},
    )
    assert refused.status_code == 403
    assert db.session.get(ApiKey, key.id).link_existing is False

    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    page = client.get("/admin/api-keys").get_data(as_text=True)
    assert "own customers only" in page
    token = page_csrf(client, "/admin/api-keys")
    done = client.post(
        f"/admin/api-keys/{key.id}/existing-customers", data={"csrf_token": token, "allow": "1"}
    )
    assert done.status_code == 303
    assert db.session.get(ApiKey, key.id).link_existing is True
    assert "may add invoices" in client.get("/admin/api-keys").get_data(as_text=True)
    client.post(
        f"/admin/api-keys/{key.id}/existing-customers", data={"csrf_token": token, "allow": "0"}
    )
    assert db.session.get(ApiKey, key.id).link_existing is False
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "api_key.link_existing")
    ).all()
    assert [(e.actor.startswith("admin:"), e.details["allowed"]) for e in events] == [
        (True, True),
        (True, False),
    ]
