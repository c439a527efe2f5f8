"""A debtor session ends for real: a copied cookie stops working after logout, after
"sign out everywhere" (the debtor's or an admin's) and after an email change."""

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from portal.db import db
from portal.models import AuditEvent
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import body_text, csrf, csrf_from, english_client, link_in
from tests.factories import create_admin, create_debtor

COOKIE = "bp_session"


def sign_in(client: FlaskClient, inbox, email: str) -> None:
    """The real way in: ask for a link, open it, press continue."""
    inbox.clear()
    client.post("/login", data={"email": email, "csrf_token": csrf(client)})
    path = link_in(inbox.wait_for(email)).replace("http://portal.test", "")
    response = client.post(path, data={"csrf_token": csrf(client, path)})
    assert response.status_code == 303


def copy_of(client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of this one's session cookie (stolen, or kept)."""
    cookie = client.get_cookie(COOKIE, domain="portal.test")
    assert cookie is not None
    thief = english_client(client.application)
    thief.set_cookie(COOKIE, cookie.value, domain="portal.test")
    return thief


def test_logout_ends_the_session_and_every_copy_and_lands_on_a_page_that_reloads(client, inbox):
    debtor = create_debtor(emails=["anna@example.com", "partner@example.com"])
    sign_in(client, inbox, "anna@example.com")
    partner = english_client(client.application)
    sign_in(partner, inbox, "partner@example.com")
    thief = copy_of(client)
    assert thief.get("/overview").status_code == 200

    assert client.post("/logout").status_code == 400  # a POST with its CSRF token only
    page = client.get("/overview").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    landing = client.get("/login")  # a reload of where logout ends is an ordinary GET
    assert landing.status_code == 200 and "You are signed out" in landing.get_data(as_text=True)
    assert client.get("/overview").status_code == 302

    stolen = thief.get("/overview")
    assert stolen.status_code == 302 and stolen.headers["Location"].startswith("/login")
    # the other address on the account signed in on its own: that session goes on
    assert partner.get("/overview").status_code == 200
    assert db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "login.signed_out", AuditEvent.debtor_id == debtor.id
        )
    ).one()


def test_sign_out_everywhere_ends_every_session_on_the_account(client, inbox):
    create_debtor(emails=["anna@example.com", "partner@example.com"])
    sign_in(client, inbox, "anna@example.com")
    partner = english_client(client.application)
    sign_in(partner, inbox, "partner@example.com")
    thief = copy_of(client)

    page = client.get("/requests/contact").get_data(as_text=True)
    assert "Sign out everywhere" in page
    response = client.post("/sign-out-everywhere", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "every device" in client.get("/login").get_data(as_text=True)
    for browser in (client, thief, partner):
        assert browser.get("/overview").status_code == 302
    # a fresh link works again
    sign_in(client, inbox, "anna@example.com")
    assert client.get("/overview").status_code == 200


def test_an_admin_signs_a_debtor_out_everywhere(client, inbox):
    debtor = create_debtor(emails=["anna@example.com"])
    other = create_debtor(emails=["anna@example.com"])  # the same address, another account
    sign_in(client, inbox, "anna@example.com")
    thief = copy_of(client)
    create_admin("clerk@example.com", role="clerk")
    staff = english_client(client.application)
    admin_login(staff, "clerk@example.com")
    token = page_csrf(staff, f"/admin/debtors/{debtor.id}")
    done = staff.post(f"/admin/debtors/{debtor.id}/sign-out-everywhere", data={"csrf_token": token})
    assert done.status_code == 303
    assert thief.get("/choose").status_code == 302  # the session that could open it ended
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "login.sessions_ended")
    ).one()
    assert event.debtor_id == debtor.id and event.actor.startswith("admin:")
    assert other.id != debtor.id


def test_an_email_change_ends_every_session(app, client, inbox):
    create_debtor(emails=["oud@example.com"])
    sign_in(client, inbox, "oud@example.com")
    thief = copy_of(client)
    token = csrf(client, "/requests/contact")
    client.post("/requests/contact", data={"csrf_token": token, "email": "nieuw@example.com"})
    mail = inbox.wait_for("nieuw@example.com")
    link = re.search(r"https?://\S+/contact/confirm/[A-Za-z0-9_-]+", body_text(mail)).group(0)
    path = link.split("portal.test", 1)[1]
    assert thief.get("/overview").status_code == 200  # asking for a change ends nothing
    confirmed = client.post(path, data={"csrf_token": csrf(client, path)})
    assert thief.get("/overview").status_code == 302
    assert client.get("/overview").status_code == 302
    assert "Sign in again with your new address" in confirmed.get_data(as_text=True)
    assert "was changed" in str(inbox.wait_for("oud@example.com")["Subject"])  # told
    sign_in(client, inbox, "nieuw@example.com")
    assert client.get("/overview").status_code == 200


def test_only_a_full_admin_changes_email_addresses_and_the_old_ones_are_told(client, inbox):
    from portal.models import Debtor

    debtor = create_debtor(name="Anna Visser", emails=["oud@example.com"])
    sign_in(client, inbox, "oud@example.com")
    thief = copy_of(client)
    url = f"/admin/debtors/{debtor.id}"
    form = {"name": "Anna Visser", "country": "NL", "language": "en", "kind": "b2c"}

    create_admin("clerk@example.com", role="clerk")
    clerk = english_client(client.application)
    admin_login(clerk, "clerk@example.com")
    page = clerk.get(url).get_data(as_text=True)
    assert re.search(r'<input[^>]*name="emails"[^>]*readonly', page)
    takeover = {**form, "csrf_token": csrf_from(page), "emails": "mallory@evil.example"}
    refused = clerk.post(url, data=takeover)
    assert refused.status_code == 422
    assert "Only a full admin may change email addresses" in refused.get_data(as_text=True)
    assert [e.email for e in db.session.get(Debtor, debtor.id).emails] == ["oud@example.com"]
    # a clerk may still change the rest, with the addresses as they are
    kept = {**form, "csrf_token": csrf_from(page), "emails": "oud@example.com", "city": "Gouda"}
    assert clerk.post(url, data=kept).status_code == 303
    assert thief.get("/overview").status_code == 200

    boss = create_admin("boss@example.com")
    staff = english_client(client.application)
    admin_login(staff, "boss@example.com")
    token = page_csrf(staff, url)
    inbox.clear()
    done = staff.post(url, data={**form, "csrf_token": token, "emails": "nieuw@example.com"})
    assert done.status_code == 303
    assert [e.email for e in db.session.get(Debtor, debtor.id).emails] == ["nieuw@example.com"]
    told = inbox.wait_for("oud@example.com")
    assert "was changed" in str(told["Subject"])
    assert inbox.to("nieuw@example.com") == []
    assert thief.get("/overview").status_code == 302
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "admin.debtor_emails_changed")
    ).one()
    assert event.actor == f"admin:{boss.id}"
    assert (event.details["old"], event.details["new"]) == (
        ["oud@example.com"],
        ["nieuw@example.com"],
    )
