"""Two-step login: a code works once, and the secret being enrolled never leaves the server
except on the enrolment page itself."""

import json
import re
import time

import pyotp
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from portal.db import db
from portal.models import AdminUser, AuditEvent
from tests.admin.test_admin import admin_login
from tests.conftest import csrf_from, english_client
from tests.factories import create_admin


def with_two_step(email):
    user = create_admin(email)
    user.totp_secret, user.totp_enabled = pyotp.random_base32(), True
    db.session.commit()
    return user.totp_secret


def second_step(client, email, code):
    first = admin_login(client, email)
    assert first.headers["Location"].startswith("/admin/login/code")
    form = client.get(first.headers["Location"]).get_data(as_text=True)
    return client.post(
        first.headers["Location"], data={"code": code, "csrf_token": csrf_from(form)}
    )


def test_a_code_works_once(app):
    secret = with_two_step("boss@example.com")
    code = pyotp.TOTP(secret).now()
    mine = english_client(app)
    assert second_step(mine, "boss@example.com", code).status_code == 303
    assert mine.get("/admin/").status_code == 200

    # someone who saw the code (and knows the password) tries it within its 30 seconds
    theirs = english_client(app)
    replay = second_step(theirs, "boss@example.com", code)
    assert replay.status_code == 422
    assert "That code is not right" in replay.get_data(as_text=True)
    assert theirs.get("/admin/").status_code == 302
    # the next code from the app works as usual
    later = pyotp.TOTP(secret).at(time.time() + 30)
    assert second_step(english_client(app), "boss@example.com", later).status_code == 303
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("admin.totp_failed") == 1 and actions.count("admin.login") == 2


def readable_cookies(app, client):
    """What a browser (or anyone holding the cookies) can read: each cookie's value, and
    Flask's signed session decoded (signed is not encrypted)."""
    texts = []
    for cookie in client._cookies.values():
        texts.append(cookie.value)
        if cookie.key == app.config["SESSION_COOKIE_NAME"]:
            serializer = SecureCookieSessionInterface().get_signing_serializer(app)
            texts.append(json.dumps(serializer.loads(cookie.value)))
    return "\n".join(texts)


def test_the_secret_being_enrolled_is_not_in_any_cookie(app):
    create_admin("boss@example.com")
    client = english_client(app)
    admin_login(client, "boss@example.com")
    page = client.get("/admin/account/two-factor").get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    assert secret not in readable_cookies(app, client)
    # it is kept with the account: a reload shows the same key, so a scanned code still fits
    again = client.get("/admin/account/two-factor").get_data(as_text=True)
    assert f"<code>{secret}</code>" in again
    done = client.post(
        "/admin/account/two-factor",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(again)},
    )
    assert done.status_code == 303
    user = db.session.scalars(select(AdminUser)).one()
    assert user.totp_enabled and user.totp_secret == secret and user.totp_pending_secret is None
