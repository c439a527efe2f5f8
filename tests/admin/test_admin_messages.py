"""The message text editor: live preview for a real debtor, save as a version, refusal
with the line, test mail to the admin, revert; clerks cannot edit texts."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from portal.db import db
from portal.domain.messaging import templates
from portal.models import OutboxMessage
from tests.admin.test_admin import admin_login, page_csrf
from tests.factories import create_admin, create_brand, create_debtor, create_invoice

EDIT = "/admin/messages/{brand}/reminder/en"


def form(client, brand, **changes):
    source = templates.default("reminder", "en")
    data = {
        "csrf_token": page_csrf(client, EDIT.format(brand=brand.id)),
        "subject": source.subject,
        "html": source.html,
        "text": source.text,
    }
    data.update(changes)
    return data


def boss(client):
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")


def preview_frame(client, html: str) -> str:
    token = re.search(r'/admin/messages/preview/([\w-]+)"', html)
    assert token, html
    return client.get(f"/admin/messages/preview/{token.group(1)}").get_data(as_text=True)


def test_the_list_shows_default_and_edited_texts(client):
    brand = create_brand()
    boss(client)
    page = client.get(f"/admin/messages?brand={brand.id}").get_data(as_text=True)
    assert page.count("Default text") == 3 * len(templates.SPECS)
    client.post(EDIT.format(brand=brand.id), data=form(client, brand, subject="Pay {{ total }}"))
    page = client.get(f"/admin/messages?brand={brand.id}").get_data(as_text=True)
    assert "Edited (version 1)" in page


def test_every_editor_the_list_shows_opens_with_its_name(client):
    brand = create_brand()
    debtor = create_debtor(brand, name="Petra de Vries")
    create_invoice(debtor, number="INV-1", total_cents=5_000, due_date=dt.date(2026, 10, 1))
    boss(client)
    page = client.get(f"/admin/messages?brand={brand.id}").get_data(as_text=True)
    rows = re.findall(r'<th scope="row">([^<]*)</th>', page)
    assert len(rows) == len(templates.SPECS) and all(name.strip() for name in rows)
    links = sorted(set(re.findall(r'href="(/admin/messages/\d+/[a-z_]+/[a-z]{2})"', page)))
    assert len(links) == 3 * len(templates.SPECS)  # every kind, channel and language
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
        key = link.split("/")[-2]
        assert f"<h1>{templates.SPECS[key].title} " in response.get_data(as_text=True)


def test_every_message_has_a_name_in_every_language(app):
    from portal.i18n import LANGUAGES

    for language in LANGUAGES:
        with app.test_request_context(headers={"Accept-Language": language}):
            from flask_babel import gettext

            for spec in templates.SPECS.values():
                assert spec.title, spec.key
                if language != "en":
                    assert gettext(spec.title) != spec.title, (language, spec.key)


def test_live_preview_renders_the_unsaved_text_for_a_real_debtor(client):
    brand = create_brand(name="Zon B.V.")
    debtor = create_debtor(brand, name="Petra de Vries", language="en")
    create_invoice(debtor, number="INV-77", total_cents=12_345, due_date=dt.date(2026, 10, 1))
    boss(client)
    data = form(client, brand, subject="Still open: {{ total }}", debtor_id=str(debtor.id))
    data["html"] = "<p>Dear {{ debtor.name }}, see below.</p>" + data["html"]
    response = client.post(
        EDIT.format(brand=brand.id) + "/preview", data=data, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Still open: €123.45" in page
    frame = preview_frame(client, page)
    assert "Dear Petra de Vries, see below." in frame and "INV-77" in frame
    # a preview saves nothing
    assert templates.history(db.session(), brand.id, "reminder", "en") == []


def test_the_preview_frame_belongs_to_the_admin_who_made_it(client, app):
    brand = create_brand()
    boss(client)
    page = client.post(
        EDIT.format(brand=brand.id) + "/preview",
        data=form(client, brand),
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    token = re.search(r"/admin/messages/preview/([\w-]+)", page).group(1)
    other = app.test_client()
    create_admin("other@example.com")
    admin_login(other, "other@example.com")
    assert other.get(f"/admin/messages/preview/{token}").status_code == 404
    own = client.get(f"/admin/messages/preview/{token}")
    assert "sandbox" in own.headers["Content-Security-Policy"]


def test_a_broken_text_is_refused_with_part_line_and_reason_and_kept_in_the_form(client):
    brand = create_brand()
    boss(client)
    data = form(client, brand)
    data["text"] = (
        "Hello {{ debtor.name }}\n{{ invoice_table }}\n{{ pay_link }}\n{{ debtor.__class__ }}"
    )
    response = client.post(EDIT.format(brand=brand.id), data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Plain text, line 4: not allowed" in page
    assert "{{ debtor.__class__ }}" in page  # what the admin typed is still there
    assert templates.history(db.session(), brand.id, "reminder", "en") == []


def test_save_then_revert_to_the_default(client):
    brand = create_brand()
    boss(client)
    saved = client.post(
        EDIT.format(brand=brand.id),
        data=form(client, brand, subject="Please pay {{ total }}"),
        follow_redirects=True,
    )
    assert "Saved as version 1" in saved.get_data(as_text=True)
    assert templates.current(db.session(), brand.id, "reminder", "en").subject == (
        "Please pay {{ total }}"
    )
    reverted = client.post(
        EDIT.format(brand=brand.id) + "/revert",
        data={"csrf_token": page_csrf(client, EDIT.format(brand=brand.id)), "version": "0"},
        follow_redirects=True,
    )
    assert "as version 2" in reverted.get_data(as_text=True)
    assert templates.current(db.session(), brand.id, "reminder", "en") == templates.default(
        "reminder", "en"
    )


def test_send_a_test_to_me_keeps_the_unsaved_text(client):
    brand = create_brand()
    boss(client)
    response = client.post(
        EDIT.format(brand=brand.id) + "/test", data=form(client, brand, subject="Try {{ total }}")
    )
    assert "A test mail is on its way to boss@example.com" in response.get_data(as_text=True)
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "template_test")
    ).one()
    assert mail.recipient == "boss@example.com" and mail.subject == "[Test] Try €605.00"
    assert "Try {{ total }}" in response.get_data(as_text=True)
    assert templates.history(db.session(), brand.id, "reminder", "en") == []


def test_clerks_cannot_edit_texts(client):
    brand = create_brand()
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    assert client.get(EDIT.format(brand=brand.id)).status_code == 403
    assert client.get("/admin/messages").status_code == 403
