import re

from sqlalchemy import select

from portal.db import db
from portal.models import AdminResetToken, OutboxMessage
from tests.admin.test_admin import admin_login
from tests.conftest import body_text, csrf, csrf_from
from tests.factories import create_admin


def ask(client, email):
    return client.post(
        "/admin/password/forgot",
        data={"email": email, "csrf_token": csrf(client, "/admin/password/forgot")},
    )


def reset_path(inbox, email):
    link = re.search(
        r"https?://\S+/admin/password/reset/[A-Za-z0-9_-]+", body_text(inbox.wait_for(email))
    )
    return link.group(0).replace("http://portal.test", "")


def test_reset_by_mailed_link_once(client, inbox):
    create_admin("boss@example.com")
    known, unknown = ask(client, "boss@example.com"), ask(client, "nobody@example.com")
    assert known.get_data(as_text=True).count("If this address belongs") == 1
    assert unknown.status_code == known.status_code == 200
    assert inbox.to("nobody@example.com") == []
    path = reset_path(inbox, "boss@example.com")
    assert db.session.scalars(select(AdminResetToken.used_at)).one() is None
    page = client.get(path)  # opening the link does not use it
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    differ = client.post(
        path, data={"password": "a brand new secret", "confirm": "other", "csrf_token": token}
    )
    assert differ.status_code == 422
    done = client.post(
        path,
        data={
            "password": "a brand new secret",
            "confirm": "a brand new secret",
            "csrf_token": token,
        },
    )
    assert done.status_code == 303
    assert admin_login(client, "boss@example.com", "a brand new secret").status_code == 303
    assert client.get(path).status_code == 410  # used up
    sent = db.session.scalars(select(OutboxMessage)).one()
    assert "/admin/password/reset/" not in sent.body_text  # the live link is not kept


def test_reset_ends_other_sessions(client, inbox):
    create_admin("boss@example.com")
    other = client.application.test_client()
    admin_login(other, "boss@example.com")
    assert other.get("/admin/").status_code == 200
    ask(client, "boss@example.com")
    path = reset_path(inbox, "boss@example.com")
    token = csrf_from(client.get(path).get_data(as_text=True))
    client.post(
        path,
        data={
            "password": "a brand new secret",
            "confirm": "a brand new secret",
            "csrf_token": token,
        },
    )
    assert other.get("/admin/").status_code == 302


def test_garbled_or_expired_reset_links(client, inbox):
    assert client.get("/admin/password/reset/garbled").status_code == 410
    create_admin("boss@example.com")
    ask(client, "boss@example.com")
    path = reset_path(inbox, "boss@example.com")
    token = db.session.scalars(select(AdminResetToken)).one()
    token.expires_at = token.created_at
    db.session.commit()
    assert "expired" in client.get(path).get_data(as_text=True)


def test_known_and_unknown_addresses_take_the_same_steps(client, monkeypatch):
    """The answer's timing must not tell who has an admin account: the request does no
    lookup and sends no SQL for either address; it queues the same task, which does the
    work (measured as statements and queued tasks, not as time)."""
    from sqlalchemy import event

    from portal import tasks

    create_admin("boss@example.com")
    queued: list[str] = []
    monkeypatch.setattr(tasks, "send_admin_reset", queued.append, raising=False)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    def steps(email):
        token = csrf(client, "/admin/password/forgot")
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            answer = client.post(
                "/admin/password/forgot", data={"email": email, "csrf_token": token}
            )
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return answer.status_code, answer.get_data(as_text=True), list(statements)

    assert steps("boss@example.com") == steps("nobody@example.com")
    assert queued == ["boss@example.com", "nobody@example.com"]
    assert tasks.send_admin_reset_now("boss@example.com") is True
    assert tasks.send_admin_reset_now("nobody@example.com") is False
    assert len(db.session.scalars(select(AdminResetToken)).all()) == 1
