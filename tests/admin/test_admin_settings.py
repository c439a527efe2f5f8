import io

from PIL import Image
from sqlalchemy import select

from portal.db import db
from portal.models import AuditEvent, Brand, Segment
from tests.admin.test_admin import admin_login, page_csrf
from tests.factories import create_admin, create_brand


def png(size=(800, 400), fmt="PNG"):
    buffer = io.BytesIO()
    Image.new("RGB", size, "#0f766e").save(buffer, format=fmt)
    return buffer.getvalue()


def brand_form(client, brand, **changes):
    data = {
        "csrf_token": page_csrf(client, f"/admin/brands/{brand.id}"),
        "name": brand.name,
        "primary_color": "#0f766e",
        "accent_color": "#f59e0b",
        "font": "serif",
        "default_language": "nl",
        "sender_name": "Zon",
        "sender_email": "billing@zon.example",
        "support_email": "help@zon.example",
        "support_phone": "",
        "iban": "NL91ABNA0417164300",
        "enterprise_number": "KvK 1",
        "vat_number": "",
        "address": "Straat 1",
        "payment_methods": ["ideal", "bancontact", "paypal", "card"],
    }
    data.update(changes)
    return data


def test_clerks_cannot_change_brands(client):
    brand = create_brand()
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    assert client.get(f"/admin/brands/{brand.id}").status_code == 403
    assert client.get("/admin/segments").status_code == 200


def test_brand_colours_font_and_logo(client):
    brand = create_brand(name="Zon")
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    data = brand_form(client, brand, logo=(io.BytesIO(png(fmt="JPEG")), "logo.jpg"))
    response = client.post(
        f"/admin/brands/{brand.id}", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    saved = db.session.get(Brand, brand.id)
    assert saved.font == "serif" and saved.logo_mime == "image/png"
    logo = Image.open(io.BytesIO(saved.logo))
    assert logo.format == "PNG" and max(logo.size) == 512  # re-encoded and scaled down
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "admin.brand_updated")
    ).one()
    assert "logo" in event.details["fields"]
    css = client.get(f"/brand/{brand.id}.css").get_data(as_text=True)
    assert "#0f766e" in css


def test_brand_refuses_bad_input(client):
    brand = create_brand(name="Zon", primary_color="#0f766e")
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    cases = [
        ({"primary_color": "#fafafa"}, "too light"),
        ({"primary_color": "red;}"}, "#1a2b3c"),
        ({"font": "Comic Sans"}, "font"),
        ({"logo": (io.BytesIO(b"MZ" + b"\0" * 100), "logo.png")}, "not an image"),
        ({"logo": (io.BytesIO(b"GIF89a" + png()[6:]), "logo.gif")}, "not an image"),
    ]
    for change, words in cases:
        response = client.post(
            f"/admin/brands/{brand.id}",
            data=brand_form(client, brand, **change),
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, change
        assert words in response.get_data(as_text=True), change
    assert db.session.get(Brand, brand.id).primary_color == "#0f766e"


def test_live_preview_partial_and_its_stylesheet(client):
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    html = client.get(
        "/admin/brands/preview?name=Zon&primary_color=%23fafafa&font=serif",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "Zon" in html and "text-bad" in html  # too little contrast is shown at once
    css = client.get("/admin/brands/preview.css?primary_color=%23123456&font=x;}body{")
    assert "#123456" in css.get_data(as_text=True) and "body{" not in css.get_data(as_text=True)


def test_segments(client):
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    token = page_csrf(client, "/admin/segments")
    assert (
        client.post(
            "/admin/segments",
            data={"csrf_token": token, "name": "Business", "payment_term_days": "30"},
        ).status_code
        == 303
    )
    segment = db.session.scalars(select(Segment)).one()
    assert segment.payment_term_days == 30
    bad = client.post(
        "/admin/segments", data={"csrf_token": token, "name": "X", "payment_term_days": "400"}
    )
    assert bad.status_code == 422
    edit = client.post(
        "/admin/segments",
        data={
            "csrf_token": token,
            "segment_id": segment.id,
            "name": "Business",
            "payment_term_days": "60",
        },
    )
    assert edit.status_code == 303 and db.session.get(Segment, segment.id).payment_term_days == 60


def test_brand_chooses_its_payment_methods(client):
    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    saved = client.post(
        f"/admin/brands/{brand.id}",
        data=brand_form(client, brand, payment_methods=["card", "bancontact", "evil"]),
        content_type="multipart/form-data",
    )
    assert saved.status_code == 303
    assert db.session.get(Brand, brand.id).payment_methods == "bancontact,card"
    none = client.post(
        f"/admin/brands/{brand.id}",
        data=brand_form(client, brand, payment_methods=[]),
        content_type="multipart/form-data",
    )
    assert none.status_code == 422 and "at least one payment method" in none.get_data(True)


def test_segment_part_payment_rules(client):
    create_admin("clerk2@example.com", role="clerk")
    admin_login(client, "clerk2@example.com")
    token = page_csrf(client, "/admin/segments")
    form = {"csrf_token": token, "name": "Retail", "payment_term_days": "14"}
    ok = client.post("/admin/segments", data={**form, "allow_partial": "1", "partial_min": "10,00"})
    assert ok.status_code == 303
    segment = db.session.scalars(select(Segment).where(Segment.name == "Retail")).one()
    assert segment.allow_partial and segment.partial_min_cents == 1000
    bad = client.post("/admin/segments", data={**form, "partial_min": "0,50"})
    assert bad.status_code == 422
