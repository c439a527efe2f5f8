import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain import api
from portal.models import ApiIdempotency, ApiKey, Debtor, Invoice, PayLink
from tests.factories import create_brand, create_debtor, create_invoice


def make_key(brand=None, test_mode=False):
    brand = brand or create_brand()
    key, raw = api.create_key(db.session(), brand, "shop", test_mode=test_mode, actor="test")
    db.session.commit()
    return key, raw


def auth(raw):
    return {"Authorization": f"Bearer {raw}"}


def body(**changes):
    data = {
        "debtor": {"number": "C-1", "name": "Jan Jansen", "email": "jan@example.com"},
        "invoice": {"number": "ORD-1", "amount_cents": 12100, "due_date": "2026-12-31"},
        "return_url": "https://shop.example.com/thanks",
    }
    data.update(changes)
    return data


def test_key_is_stored_hashed_and_recognisable(app):
    key, raw = make_key(test_mode=True)
    assert raw.startswith("bp_test_") and len(raw) > 40
    assert key.key_hash == api.hash_key(raw) and raw not in key.key_hash
    assert key.prefix == raw[:12]


def test_create_pay_link_makes_debtor_invoice_and_link(client):
    key, raw = make_key()
    response = client.post("/api/v1/pay-links", json=body(), headers=auth(raw))
    assert response.status_code == 201, response.json
    data = response.json
    assert data["status"] == "open" and data["test_mode"] is False
    assert data["url"].startswith("http://portal.test/p/")
    assert data["invoice"]["amount_cents"] == 12100 and data["debtor"]["number"] == "C-1"
    debtor = db.session.scalars(select(Debtor).where(Debtor.number == "C-1")).one()
    assert debtor.brand_id == key.brand_id and debtor.primary_email == "jan@example.com"
    invoice = db.session.get(Invoice, data["invoice"]["id"])
    assert invoice.hold_reason == ""  # follows its segment's reminders
    # the URL opens the existing pay page
    page = client.get(data["url"].removeprefix("http://portal.test"))
    assert page.status_code == 200 and "ORD-1" in page.get_data(as_text=True)
    assert db.session.get(ApiKey, key.id).last_used_at is not None


def test_the_keys_own_customer_is_matched_by_number_and_reminders_false_holds(client):
    key, raw = make_key()
    first = client.post("/api/v1/pay-links", json=body(), headers=auth(raw))
    response = client.post(
        "/api/v1/pay-links",
        json=body(
            debtor={"number": "C-1", "email": "jan@work.example"},
            invoice={"number": "ORD-2", "amount_cents": 500},
            reminders=False,
        ),
        headers=auth(raw),
    )
    assert response.status_code == 201, response.json
    assert response.json["debtor"]["id"] == first.json["debtor"]["id"]
    assert response.json["debtor"]["name"] == "Jan Jansen"
    debtor = db.session.get(Debtor, first.json["debtor"]["id"])
    assert debtor.api_key_id == key.id
    assert [e.email for e in debtor.emails] == ["jan@example.com", "jan@work.example"]
    invoice = db.session.get(Invoice, response.json["invoice"]["id"])
    assert invoice.hold_reason == api.HOLD_NO_REMINDERS


def test_an_order_for_someone_elses_customer_is_refused_and_reveals_nothing(client, inbox):
    from tests.conftest import csrf

    key, raw = make_key()
    imported = create_debtor(
        brand=key.brand, number="C-9", name="Piet Geheim", emails=["piet@home.example"]
    )
    _, other_raw = make_key(brand=key.brand)
    made = client.post(
        "/api/v1/pay-links",
        json=body(debtor={"number": "C-8", "name": "Els Anders"}),
        headers=auth(other_raw),
    )
    assert made.status_code == 201
    answers = []
    for number in ("C-9", "C-8"):
        takeover = body(
            debtor={"number": number, "name": "Mallory", "email": "mallory@evil.example"},
            invoice={"number": f"EVIL-{number}", "amount_cents": 100},
        )
        response = client.post("/api/v1/pay-links", json=takeover, headers=auth(raw))
        assert response.status_code == 409
        assert response.mimetype == "application/problem+json"
        assert response.json["type"].endswith("/customer-not-yours")
        text = response.get_data(as_text=True)
        assert "Piet" not in text and "Els" not in text and "piet@" not in text
        answers.append(response.json)
    assert answers[0] == answers[1]  # imported or another key's: the same words
    assert db.session.scalars(select(Invoice).where(Invoice.number.like("EVIL-%"))).all() == []
    assert [e.email for e in db.session.get(Debtor, imported.id).emails] == ["piet@home.example"]
    # the address the shop sent opens nothing: no login mail goes out
    client.post("/login", data={"email": "mallory@evil.example", "csrf_token": csrf(client)})
    assert inbox.to("mallory@evil.example") == []


def test_a_key_allowed_existing_customers_adds_invoices_only(client):
    key, raw = make_key()
    imported = create_debtor(
        brand=key.brand, number="C-9", name="Piet Geheim", emails=["piet@home.example"]
    )
    theirs = create_invoice(imported, number="F-100", total_cents=4000)
    assert api.allow_existing(db.session(), db.session.get(ApiKey, key.id), True, "admin:1")
    db.session.commit()
    order = body(
        debtor={
            "number": "C-9",
            "name": "Mallory",
            "email": "mallory@evil.example",
            "language": "fr",
        },
        invoice={"number": "ORD-9", "amount_cents": 2500},
    )
    response = client.post("/api/v1/pay-links", json=order, headers=auth(raw))
    assert response.status_code == 201, response.json
    assert response.json["debtor"] == {"id": imported.id, "number": "C-9", "name": None}
    assert "Piet" not in response.get_data(as_text=True)
    debtor = db.session.get(Debtor, imported.id)
    assert (debtor.name, debtor.language) == ("Piet Geheim", "en")
    assert [e.email for e in debtor.emails] == ["piet@home.example"]
    assert db.session.get(Invoice, response.json["invoice"]["id"]).debtor_id == imported.id
    # the same order again finds its own invoice; the customer's other invoices stay closed
    again = client.post("/api/v1/pay-links", json=order, headers=auth(raw))
    assert again.status_code == 201
    assert again.json["invoice"]["id"] == response.json["invoice"]["id"]
    peek = body(debtor={"number": "C-9"}, invoice={"number": theirs.number, "amount_cents": 4000})
    refused = client.post("/api/v1/pay-links", json=peek, headers=auth(raw))
    assert refused.status_code == 409 and "F-100" not in refused.json["detail"]
    listed = client.get("/api/v1/pay-links", headers=auth(raw)).json["data"]
    assert {row["debtor"]["name"] for row in listed} == {None}
    one = client.get(f"/api/v1/pay-links/{response.json['id']}", headers=auth(raw)).json
    assert one["debtor"]["name"] is None


def test_test_key_makes_test_records_apart_from_live_ones(client):
    key, raw = make_key(test_mode=True)
    live = create_debtor(brand=key.brand, number="C-1", name="Real")
    response = client.post("/api/v1/pay-links", json=body(), headers=auth(raw))
    assert response.status_code == 201
    data = response.json
    assert data["test_mode"] is True and data["debtor"]["id"] != live.id
    assert data["debtor"]["number"] == "C-1"
    invoice = db.session.get(Invoice, data["invoice"]["id"])
    assert invoice.number == "test:ORD-1" and invoice.hold_reason == api.HOLD_TEST


def test_validation_problems_name_each_field(client):
    _, raw = make_key()
    response = client.post(
        "/api/v1/pay-links",
        json={"debtor": {"number": ""}, "invoice": {"number": "X", "amount_cents": "12,10"}},
        headers=auth(raw),
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert {"type", "title", "status", "detail"} <= problem.keys()
    pointers = {e["pointer"] for e in problem["errors"]}
    assert {"/debtor/number", "/invoice/amount_cents"} <= pointers


def test_no_or_revoked_key_is_401(client):
    key, raw = make_key()
    assert client.get("/api/v1/pay-links").status_code == 401
    assert client.get("/api/v1/pay-links", headers=auth("bp_live_nope")).status_code == 401
    api.revoke_key(db.session(), db.session.get(ApiKey, key.id), "test")
    db.session.commit()
    response = client.get("/api/v1/pay-links", headers=auth(raw))
    assert response.status_code == 401 and response.json["status"] == 401


def test_a_key_sees_only_its_own_brands_links(client):
    _, raw_a = make_key()
    _, raw_b = make_key()
    created = client.post("/api/v1/pay-links", json=body(), headers=auth(raw_a)).json
    assert client.get(f"/api/v1/pay-links/{created['id']}", headers=auth(raw_a)).status_code == 200
    assert client.get(f"/api/v1/pay-links/{created['id']}", headers=auth(raw_b)).status_code == 404
    revoke = client.post(f"/api/v1/pay-links/{created['id']}/revoke", headers=auth(raw_b))
    assert revoke.status_code == 404
    assert client.get("/api/v1/pay-links", headers=auth(raw_b)).json["data"] == []
    # nor a link made in admin for the same brand
    other = create_invoice(create_debtor())
    assert client.get(f"/api/v1/pay-links/{other.id}", headers=auth(raw_a)).status_code == 404


def test_list_pages_with_an_opaque_cursor(client):
    _, raw = make_key()
    ids = []
    for n in range(5):
        invoice = {"number": f"ORD-{n}", "amount_cents": 1000 + n}
        ids.append(
            client.post("/api/v1/pay-links", json=body(invoice=invoice), headers=auth(raw)).json[
                "id"
            ]
        )
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/pay-links", query_string=query, headers=auth(raw)).json
        seen += [row["id"] for row in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert not cursor.isdigit()  # opaque, and signed
    assert seen == sorted(ids, reverse=True)
    bad = client.get("/api/v1/pay-links", query_string={"limit": 101}, headers=auth(raw))
    assert bad.status_code == 400
    bad = client.get("/api/v1/pay-links", query_string={"cursor": "abc"}, headers=auth(raw))
    assert bad.status_code == 400


def test_revoke_ends_the_link(client):
    _, raw = make_key()
    created = client.post("/api/v1/pay-links", json=body(), headers=auth(raw)).json
    response = client.post(f"/api/v1/pay-links/{created['id']}/revoke", headers=auth(raw))
    assert response.status_code == 200 and response.json["status"] == "revoked"
    assert db.session.get(PayLink, created["id"]).status == "revoked"
    page = client.get(created["url"].removeprefix("http://portal.test"))
    assert page.status_code == 410


def test_idempotency_key_replays_and_refuses_another_body(client):
    _, raw = make_key()
    headers = auth(raw) | {"Idempotency-Key": "order-1"}
    first = client.post("/api/v1/pay-links", json=body(), headers=headers)
    again = client.post("/api/v1/pay-links", json=body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalars(select(PayLink)).all().__len__() == 1
    other = client.post(
        "/api/v1/pay-links", json=body(return_url="https://other.example"), headers=headers
    )
    assert other.status_code == 422 and "idempotency" in other.json["type"]


def test_idempotency_key_still_running_is_409(client):
    key, raw = make_key()
    digest = api.request_hash("POST", "/api/v1/pay-links", b'{"a": 1}')
    db.session.add(ApiIdempotency(api_key_id=key.id, key="busy", request_hash=digest))
    db.session.commit()
    response = client.post(
        "/api/v1/pay-links", json={"a": 1}, headers=auth(raw) | {"Idempotency-Key": "busy"}
    )
    assert response.status_code == 409


def test_conflicting_invoice_is_409(client):
    _, raw = make_key()
    client.post("/api/v1/pay-links", json=body(), headers=auth(raw))
    response = client.post(
        "/api/v1/pay-links",
        json=body(invoice={"number": "ORD-1", "amount_cents": 999}),
        headers=auth(raw),
    )
    assert response.status_code == 409


@pytest.fixture
def low_limit(app):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    yield
    app.config.pop("API_RATE_LIMIT")


def test_rate_limit_is_per_key_with_retry_after(client, low_limit):
    _, raw_a = make_key()
    _, raw_b = make_key()
    for _ in range(3):
        assert client.get("/api/v1/pay-links", headers=auth(raw_a)).status_code == 200
    limited = client.get("/api/v1/pay-links", headers=auth(raw_a))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json["status"] == 429
    assert client.get("/api/v1/pay-links", headers=auth(raw_b)).status_code == 200


def test_openapi_document_and_docs_page(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1") and "/pay-links" in doc["paths"]
    page = client.get("/api/docs")
    assert page.status_code == 200 and "createPayLink" in page.get_data(as_text=True)
    assert "<script>" not in page.get_data(as_text=True)


def test_test_link_pays_through_the_sandbox_and_the_receipt_links_back_to_the_shop(client):
    from portal.domain.payments import service
    from portal.domain.payments.providers.base import ProviderStatus, Status
    from portal.models import Payment
    from tests.conftest import csrf_from
    from tests.payments.helpers import checkout_of

    _, raw = make_key(test_mode=True)
    created = client.post("/api/v1/pay-links", json=body(), headers=auth(raw)).json
    path = created["url"].removeprefix("http://portal.test")
    token = csrf_from(client.get(path).get_data(as_text=True))
    started = client.post(path, data={"csrf_token": token, "method": "ideal"})
    assert "/sandbox/" in checkout_of(client, started)
    payment = db.session.scalars(select(Payment)).one()
    assert payment.provider == "sandbox" and payment.pay_link_id == created["id"]
    truth = ProviderStatus(payment.provider_ref, Status.PAID, 12100, "EUR", test_mode=True)
    service.apply_truth(db.session(), service.locked(db.session(), payment.id), truth, None)
    db.session.commit()
    receipt = client.get(f"/pay/return/{payment.public_id}").get_data(as_text=True)
    assert 'href="https://shop.example.com/thanks"' in receipt
    got = client.get(f"/api/v1/pay-links/{created['id']}", headers=auth(raw)).json
    assert got["status"] == "paid" and got["invoice"]["open_cents"] == 0


def test_single_links_carry_embedding_snippets_lists_do_not(client):
    _, raw = make_key()
    created = client.post("/api/v1/pay-links", json=body(), headers=auth(raw)).json
    embed = created["embed"]
    assert embed["link"] == created["url"]
    assert f'href="{created["url"]}"' in embed["button_html"] and "#0f766e" in embed["button_html"]
    assert 'target="_top"' in embed["button_html"]
    assert embed["qr_svg"].startswith("<svg") and "<script" not in embed["qr_svg"]
    listed = client.get("/api/v1/pay-links", headers=auth(raw)).json["data"][0]
    assert "embed" not in listed
