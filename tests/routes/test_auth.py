import re
import time

from sqlalchemy import select

from portal.db import db
from portal.models import LoginToken, OutboxMessage
from tests.conftest import body_text, csrf, csrf_from, english_client, link_in, login_as
from tests.factories import create_debtor, create_invoice


def ask_link(client, email):
    return client.post("/login", data={"email": email, "csrf_token": csrf(client)})


def test_known_and_unknown_addresses_get_the_same_answer(client, inbox):
    create_debtor(emails=["anna@example.com"])
    known = ask_link(client, "anna@example.com")
    unknown = ask_link(client, "stranger@example.com")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == "/login/sent"
    assert len(inbox.to("anna@example.com")) == 1
    assert inbox.to("stranger@example.com") == []


def test_known_and_unknown_addresses_take_the_same_steps(client, monkeypatch):
    """The answer's timing must not tell who is a customer: the request does the same work
    for both (no lookup, no token, no mail; it queues the same task), measured as the SQL it
    sends and the tasks it queues rather than as a time."""
    from sqlalchemy import event

    from portal import tasks

    create_debtor(emails=["anna@example.com"])
    token = csrf(client)
    statements: list[str] = []
    queued: list[tuple[str, str]] = []
    # queue instead of running inline (tests run tasks at once), to see what was queued
    monkeypatch.setattr(tasks, "send_login_link", lambda *a: queued.append(a), raising=False)

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    def steps(email):
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            answer = client.post("/login", data={"email": email, "csrf_token": token})
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return answer.status_code, answer.headers["Location"], list(statements)

    assert steps("Anna@Example.com") == steps("stranger@example.com") == (303, "/login/sent", [])
    assert queued == [("anna@example.com", "127.0.0.1"), ("stranger@example.com", "127.0.0.1")]
    # the task is where the difference lies: a link and a mail for a customer only
    assert tasks.send_login_link_now("anna@example.com", "127.0.0.1") is True
    assert tasks.send_login_link_now("stranger@example.com", "127.0.0.1") is False
    tokens = db.session.scalars(select(LoginToken)).all()
    assert [(t.email, t.requested_ip) for t in tokens] == [("anna@example.com", "127.0.0.1")]


def test_login_mail_goes_out_over_smtp_with_text_and_html(client, inbox):
    create_debtor(emails=["anna@example.com"], language="nl")
    ask_link(client, "anna@example.com")
    message = inbox.wait_for("anna@example.com")
    assert message.get_body(preferencelist=("html",)) is not None
    link = link_in(message)
    assert link.startswith("http://portal.test/login/")
    assert "15" in body_text(message)
    stored = db.session.scalars(select(OutboxMessage)).one()
    assert stored.status == "sent"
    assert link.rsplit("/", 1)[1] not in stored.body_text  # live credential dropped after sending


def test_get_on_the_link_only_shows_a_button(client, inbox):
    create_debtor(emails=["anna@example.com"])
    ask_link(client, "anna@example.com")
    path = link_in(inbox.wait_for("anna@example.com")).replace("http://portal.test", "")
    for _ in range(3):  # a mail scanner opening the link first changes nothing
        page = client.get(path)
        assert page.status_code == 200
        assert "Continue to your invoices" in page.get_data(as_text=True)
    assert client.get("/overview").status_code == 302
    assert db.session.scalars(select(LoginToken.used_at)).one() is None


def test_continue_logs_in_once_and_the_link_is_then_spent(client, inbox):
    debtor = create_debtor(emails=["anna@example.com"], name="Anna Visser")
    create_invoice(debtor, number="F-2026-001")
    ask_link(client, "anna@example.com")
    path = link_in(inbox.wait_for("anna@example.com")).replace("http://portal.test", "")
    token = csrf_from(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/overview"
    assert "Anna Visser" in client.get("/overview").get_data(as_text=True)

    other = english_client(client.application)
    again = other.post(path, data={"csrf_token": csrf(other)})
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    assert 'name="email"' in again.get_data(as_text=True)  # offers a new link


def test_continue_without_csrf_token_is_refused(client, inbox):
    create_debtor(emails=["anna@example.com"])
    ask_link(client, "anna@example.com")
    path = link_in(inbox.wait_for("anna@example.com")).replace("http://portal.test", "")
    response = client.post(path, data={})
    assert response.status_code == 400
    assert client.get("/overview").status_code == 302


def test_login_form_without_csrf_token_is_refused(client, inbox):
    create_debtor(emails=["anna@example.com"])
    response = client.post("/login", data={"email": "anna@example.com"})
    assert response.status_code == 400
    assert "Please try again" in response.get_data(as_text=True)
    assert inbox.to("anna@example.com") == []


def test_garbled_expired_and_unknown_links_show_a_friendly_page(client):
    for path, status, words in [
        ("/login/garbled", 404, "do not recognise"),
        ("/login/" + "A" * 43, 404, "do not recognise"),
    ]:
        page = client.get(path)
        assert page.status_code == status
        assert words in page.get_data(as_text=True)
        assert "Traceback" not in page.get_data(as_text=True)


def test_expired_link(client, inbox, monkeypatch):
    create_debtor(emails=["anna@example.com"])
    ask_link(client, "anna@example.com")
    path = link_in(inbox.wait_for("anna@example.com")).replace("http://portal.test", "")
    token = db.session.scalars(select(LoginToken)).one()
    token.expires_at = token.created_at
    db.session.commit()
    page = client.get(path)
    assert page.status_code == 410
    assert "expired" in page.get_data(as_text=True)


def test_invalid_email_is_explained_in_place(client):
    response = client.post("/login", data={"email": "not-an-address", "csrf_token": csrf(client)})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html
    assert "name@example.com" in html


def test_shared_address_chooses_an_account(client, inbox):
    a = create_debtor(emails=["office@accountant.example"], name="Bakkerij Aa")
    b = create_debtor(emails=["office@accountant.example"], name="Bouw Bb")
    create_invoice(b, number="BB-1")
    ask_link(client, "office@accountant.example")
    path = link_in(inbox.wait_for("office@accountant.example")).replace("http://portal.test", "")
    response = client.post(path, data={"csrf_token": csrf(client, path)})
    assert response.headers["Location"] == "/choose"
    chooser = client.get("/choose").get_data(as_text=True)
    assert "Bakkerij Aa" in chooser and "Bouw Bb" in chooser
    assert client.get("/overview").status_code == 302  # nothing chosen yet

    outsider = create_debtor(emails=["x@example.com"])
    refused = client.post(
        "/choose", data={"debtor_id": outsider.id, "csrf_token": csrf_from(chooser)}
    )
    assert refused.status_code == 422

    chosen = client.post("/choose", data={"debtor_id": b.id, "csrf_token": csrf_from(chooser)})
    assert chosen.headers["Location"] == "/overview"
    assert "BB-1" in client.get("/invoices").get_data(as_text=True)
    assert a.id != b.id


def test_idle_session_expires_after_30_minutes(client):
    debtor = create_debtor()
    login_as(client, debtor)
    with client.session_transaction() as sess:
        sess["seen"] = int(time.time()) - 31 * 60
    response = client.get("/overview")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert client.get("/overview").status_code == 302


def test_session_cookie_flags(client, inbox):
    create_debtor(emails=["anna@example.com"])
    ask_link(client, "anna@example.com")
    path = link_in(inbox.wait_for("anna@example.com")).replace("http://portal.test", "")
    response = client.post(path, data={"csrf_token": csrf(client, path)})
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("bp_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # BASE_URL is http in tests; https turns it on (test_config)


def test_rate_limit_per_address_answers_kindly(client, inbox):
    create_debtor(emails=["anna@example.com"])
    statuses = [ask_link(client, "anna@example.com").status_code for _ in range(6)]
    assert statuses[:5] == [303] * 5
    assert statuses[5] == 429
    last = ask_link(client, "anna@example.com")
    assert "wait a few minutes" in last.get_data(as_text=True)
    assert len(inbox.to("anna@example.com")) == 5
    assert ask_link(client, "someone.else@example.com").status_code == 303  # other address fine


def test_rate_limit_per_ip(client):
    statuses = [ask_link(client, f"person{i}@example.com").status_code for i in range(21)]
    assert statuses[:20] == [303] * 20
    assert statuses[20] == 429


def test_login_page_links_have_no_password_field(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'type="password"' not in html
    assert re.search(r'<label for="email">', html)


def test_anonymous_pages_follow_the_browser_and_default_to_dutch(app):
    plain = app.test_client()
    assert "Stuur mij een inloglink" in plain.get("/login").get_data(as_text=True)
    plain.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-BE,fr;q=0.9"
    assert "Envoyez-moi un lien de connexion" in plain.get("/login").get_data(as_text=True)


def test_login_mail_is_in_the_debtors_language(client, inbox):
    create_debtor(emails=["jan@example.com"], language="nl")
    ask_link(client, "jan@example.com")
    message = inbox.wait_for("jan@example.com")
    assert "inloglink" in str(message["Subject"]).lower()
    assert "Open deze link" in body_text(message)
