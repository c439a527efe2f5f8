import datetime as dt
import re
import time
from urllib.parse import unquote

import pyotp
import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain import admins
from portal.models import AdminUser, AuditEvent, OutboxMessage
from tests.conftest import csrf, csrf_from, login_as
from tests.factories import (
    ADMIN_PASSWORD,
    business_today,
    create_admin,
    create_debtor,
    create_invoice,
)


def admin_login(client, email, password=ADMIN_PASSWORD, follow=False):
    token = csrf(client, "/admin/login")
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=follow,
    )


def page_csrf(client, path="/admin/"):
    return csrf_from(client.get(path).get_data(as_text=True))


def test_create_admin_command_reads_password_from_stdin(app):
    runner = app.test_cli_runner()
    ok = runner.invoke(
        args=["create-admin", "Boss@Example.com", "--password-stdin"],
        input="a long enough secret\n",
    )
    assert ok.exit_code == 0, ok.output
    user = db.session.scalars(select(AdminUser)).one()
    assert user.email == "boss@example.com" and user.role == "admin"
    assert user.password_hash.startswith("$argon2id$")
    assert "a long enough secret" not in user.password_hash
    weak = runner.invoke(
        args=["create-admin", "x@example.com", "--password-stdin"], input="short\n"
    )
    assert weak.exit_code == 1 and "12 characters" in weak.output
    again = runner.invoke(
        args=["create-admin", "boss@example.com", "--password-stdin"],
        input="a long enough secret\n",
    )
    assert again.exit_code == 1 and "already exists" in again.output


def test_admin_pages_need_an_admin_login(client):
    for path in ("/admin/", "/admin/outbox", "/admin/users", "/admin/audit"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith(
            "/admin/login"
        )


def test_login_and_logout(client):
    create_admin("boss@example.com")
    response = admin_login(client, "boss@example.com")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("bp_admin="))
    assert "Path=/admin" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Dashboard" in client.get("/admin/").get_data(as_text=True)
    client.post("/admin/logout", data={"csrf_token": page_csrf(client)})
    assert client.get("/admin/").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_answer(client):
    create_admin("boss@example.com")
    wrong = admin_login(client, "boss@example.com", "not the password!")
    unknown = admin_login(client, "nobody@example.com", "not the password!")
    assert wrong.status_code == unknown.status_code == 422
    assert "Email address or password is not right" in wrong.get_data(as_text=True)
    assert "Email address or password is not right" in unknown.get_data(as_text=True)


def test_account_locks_after_repeated_failures(app):
    create_admin("boss@example.com")
    t0 = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
    for _ in range(admins.FREE_FAILURES):
        result = admins.check_password(db.session(), "boss@example.com", "wrong", now=lambda: t0)
        assert result.outcome == admins.LoginOutcome.INVALID
    locked = admins.check_password(db.session(), "boss@example.com", ADMIN_PASSWORD, now=lambda: t0)
    assert locked.outcome == admins.LoginOutcome.LOCKED  # even the right password waits
    later = t0 + dt.timedelta(minutes=2)
    ok = admins.check_password(db.session(), "boss@example.com", ADMIN_PASSWORD, now=lambda: later)
    assert ok.outcome == admins.LoginOutcome.OK and ok.user.failed_logins == 0


def test_login_is_rate_limited_per_address(client):
    create_admin("boss@example.com")
    statuses = [admin_login(client, "boss@example.com", f"guess {i}").status_code for i in range(6)]
    assert statuses[-1] == 429
    assert "wait a few minutes" in admin_login(client, "boss@example.com").get_data(as_text=True)


def test_two_step_login(client):
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    page = client.get("/admin/account/two-factor").get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    qr = re.search(r'class="qr" src="([^"]+)"', page).group(1)
    assert qr.startswith("data:image/svg+xml") and "xmlns" in unquote(qr)  # a standalone SVG
    wrong = client.post(
        "/admin/account/two-factor", data={"code": "000000", "csrf_token": csrf_from(page)}
    )
    assert wrong.status_code == 422
    code = pyotp.TOTP(secret).now()
    done = client.post(
        "/admin/account/two-factor", data={"code": code, "csrf_token": csrf_from(page)}
    )
    assert done.status_code == 303
    assert "Two-step login is on" in client.get("/admin/account/two-factor").get_data(as_text=True)

    fresh = client.application.test_client()
    first = admin_login(fresh, "boss@example.com")
    assert first.headers["Location"].startswith("/admin/login/code")
    assert fresh.get("/admin/").status_code == 302  # the password alone is not enough
    form = fresh.get(first.headers["Location"]).get_data(as_text=True)
    bad = fresh.post(
        first.headers["Location"], data={"code": "123456", "csrf_token": csrf_from(form)}
    )
    assert bad.status_code == 422
    # the code that turned it on is used up: the app's next code signs in
    good = fresh.post(
        first.headers["Location"],
        data={"code": pyotp.TOTP(secret).at(time.time() + 30), "csrf_token": csrf_from(form)},
    )
    assert good.status_code == 303
    assert fresh.get("/admin/").status_code == 200


def test_clerks_cannot_manage_users(client):
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    token = page_csrf(client)
    response = client.post(
        "/admin/users",
        data={"email": "x@example.com", "password": "x" * 20, "role": "admin", "csrf_token": token},
    )
    assert response.status_code == 403
    assert db.session.scalar(select(AdminUser).where(AdminUser.email == "x@example.com")) is None


def test_admin_adds_a_clerk_and_it_is_audited(client):
    boss = create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    token = page_csrf(client, "/admin/users")
    response = client.post(
        "/admin/users",
        data={
            "email": "new@example.com",
            "name": "Nina",
            "role": "clerk",
            "password": "a fine long secret",
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    new = db.session.scalars(select(AdminUser).where(AdminUser.email == "new@example.com")).one()
    assert new.role == "clerk"
    event = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "admin.user_created", AuditEvent.actor == f"admin:{boss.id}"
        )
    ).one()
    assert event.details["target"] == "new@example.com"
    assert "new@example.com" in client.get("/admin/audit").get_data(as_text=True)

    weak = client.post(
        "/admin/users",
        data={"email": "w@example.com", "password": "short", "role": "clerk", "csrf_token": token},
    )
    assert weak.status_code == 422 and "12 characters" in weak.get_data(as_text=True)


def test_deactivated_admin_is_logged_out_at_once(client):
    boss = create_admin("boss@example.com")
    clerk = create_admin("clerk@example.com", role="clerk")
    other = client.application.test_client()
    admin_login(other, "clerk@example.com")
    assert other.get("/admin/").status_code == 200
    admin_login(client, "boss@example.com")
    token = page_csrf(client, "/admin/users")
    client.post(f"/admin/users/{clerk.id}/deactivate", data={"csrf_token": token})
    assert other.get("/admin/").status_code == 302
    own = client.post(f"/admin/users/{boss.id}/deactivate", data={"csrf_token": token})
    assert own.status_code == 409


def test_admin_forms_need_csrf(client):
    create_admin("boss@example.com")
    assert (
        client.post(
            "/admin/login", data={"email": "boss@example.com", "password": ADMIN_PASSWORD}
        ).status_code
        == 400
    )
    admin_login(client, "boss@example.com")
    assert (
        client.post("/admin/users", data={"email": "a@b.example", "password": "x" * 20}).status_code
        == 400
    )


def test_debtor_and_admin_sessions_are_separate(client):
    debtor = create_debtor()
    login_as(client, debtor)
    assert client.get("/admin/").status_code == 302  # a debtor is not an admin
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    client.post("/admin/logout", data={"csrf_token": page_csrf(client)})
    assert client.get("/overview").status_code == 200  # the debtor session is untouched


def test_dashboard_totals_per_brand_and_segment(client):
    from tests.factories import create_brand, create_segment

    segment = create_segment(name="Consumers")
    brand = create_brand(name="Zonnestroom")
    debtor = create_debtor(brand, segment_id=segment.id)
    create_invoice(
        debtor, total_cents=10000, invoice_date=dt.date(2020, 1, 1), due_date=dt.date(2020, 1, 15)
    )
    create_invoice(debtor, total_cents=2500, invoice_date=business_today())
    tester = create_debtor(brand, segment_id=segment.id, number="test:SHOP-1")
    create_invoice(tester, number="test:ORDER-1", total_cents=99_900)  # an API test key's
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    html = client.get("/admin/").get_data(as_text=True)
    assert "Consumers" in html and "Zonnestroom" in html
    assert "€125.00" in html and "€100.00" in html
    assert "€1,124.00" not in html and "999" not in html  # test records stay out


def test_outbox_viewer_shows_mail_sandboxed(client):
    message = OutboxMessage(
        channel="email",
        kind="test",
        recipient="anna@example.com",
        subject="Your invoice",
        body_text="Hello Anna",
        body_html="<p>Hello</p><script>alert(1)</script>",
        status="local",
    )
    db.session.add(message)
    db.session.commit()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    listing = client.get("/admin/outbox?status=local").get_data(as_text=True)
    assert "Your invoice" in listing
    detail = client.get(f"/admin/outbox/{message.id}").get_data(as_text=True)
    assert "Hello Anna" in detail and "sandbox" in detail
    html = client.get(f"/admin/outbox/{message.id}/html")
    csp = html.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox") and "script-src" not in csp and "default-src 'none'" in csp
    assert client.get("/admin/outbox/999999").status_code == 404


def test_the_outbox_is_for_full_admins_only(client):
    message = OutboxMessage(
        channel="email", kind="test", recipient="anna@example.com", subject="Hi", status="sent"
    )
    db.session.add(message)
    db.session.commit()
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    for path in (
        "/admin/outbox",
        f"/admin/outbox/{message.id}",
        f"/admin/outbox/{message.id}/html",
    ):
        assert client.get(path).status_code == 403, path
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "/admin/outbox" not in dashboard  # neither in the menu nor behind the counts


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example", "/overview"])
def test_login_never_redirects_outside_admin(client, next_url):
    create_admin("boss@example.com")
    token = csrf(client, "/admin/login")
    response = client.post(
        f"/admin/login?next={next_url}",
        data={"email": "boss@example.com", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/admin/"
