"""Mails that carry a credential (debtor sign-in, admin password reset, confirmation of a
new email address): the worker makes the link when it sends the mail, and no state of the
outbox row, nor any other table, ever holds a usable link."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from sqlalchemy import select

from portal.db import Base, db
from portal.domain import admins, login
from portal.domain import requests as req
from portal.domain.messaging import outbox
from portal.domain.messaging.email import (
    Mail,
    PermanentFailure,
    SmtpSettings,
    SmtpTransport,
    TemporaryFailure,
)
from portal.mails import (
    RequestMails,
    SendTimeRenderer,
    queue_admin_reset_mail,
    queue_login_mail,
)
from portal.models import OutboxMessage
from tests.admin.test_admin import admin_login
from tests.conftest import body_text, csrf
from tests.factories import create_admin, create_debtor

LINKS = {
    "login_link": r"/login/([A-Za-z0-9_-]{43})",
    "admin_reset": r"/admin/password/reset/([A-Za-z0-9_-]{43})",
    "email_confirm": r"/contact/confirm/([A-Za-z0-9_-]{43})",
}


def queue(kind: str, settings) -> str:
    """Ask for the credential mail as the pages do; returns its recipient."""
    session = db.session()
    if kind == "login_link":
        create_debtor(emails=["anna@example.com"])
        queue_login_mail(session, login.request_link(session, "anna@example.com"), settings)
        recipient = "anna@example.com"
    elif kind == "admin_reset":
        create_admin("boss@example.com")
        user, token = admins.request_reset(session, "boss@example.com")
        queue_admin_reset_mail(session, user, token, settings)
        recipient = "boss@example.com"
    else:
        debtor = create_debtor(emails=["old@example.com"])
        changes = {"email": "new@example.com"}
        req.change_contact(session, debtor.id, changes, "", "test", RequestMails(settings))
        recipient = "new@example.com"
    db.session.commit()
    return recipient


def raw_in(kind: str, text: str) -> str:
    match = re.search(LINKS[kind], text)
    assert match, f"no {kind} link in {text!r}"
    return match.group(1)


def usable(kind: str, raw: str) -> bool:
    session = db.session()
    if kind == "login_link":
        try:
            login.check_token(session, raw)
        except login.InvalidToken:
            return False
        return True
    if kind == "admin_reset":
        return admins.reset_token_valid(session, raw)
    return req.find_email_token(session, raw) is not None


def assert_nowhere_stored(raw: str) -> None:
    """Not in any column of any row of any table (the outbox, tokens, the audit log ...)."""
    for table in Base.metadata.sorted_tables:
        rows = db.session.execute(select(table)).all()
        assert raw not in repr(rows), f"a live link is stored in {table.name}"


def send(app, transport, **kw) -> outbox.SendResult:
    """One round of the worker, in the app as the worker runs it."""
    with app.app_context():
        return outbox.send_pending(
            db.session, transport, render=SendTimeRenderer(app.config["SETTINGS"]), **kw
        )


class Scripted:
    """Real SMTP, except for the outcomes scripted for the first attempts; `during` runs
    while the mail is being sent (its row is then committed as `sending`)."""

    def __init__(self, settings, *outcomes, during=None):
        self.real = SmtpTransport(SmtpSettings.from_url(settings.smtp_url))
        self.outcomes = list(outcomes)
        self.during = during
        self.mails: list[Mail] = []

    def send(self, mail: Mail) -> bool:
        self.mails.append(mail)
        if self.during:
            self.during(mail)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return self.real.send(mail)

    def close(self) -> None:
        self.real.close()


@pytest.mark.parametrize("kind", sorted(LINKS))
def test_no_state_of_a_credential_mail_keeps_a_usable_link(app, settings, inbox, kind):
    recipient = queue(kind, settings)
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).one()
    assert message.status == "pending" and not re.search(LINKS[kind], repr(message.__dict__))
    seen_sending = []

    def while_sending(mail: Mail) -> None:
        raw = raw_in(kind, mail.text)
        db.session.expire_all()
        seen_sending.append(db.session.get(OutboxMessage, message.id).status)
        assert_nowhere_stored(raw)

    transport = Scripted(settings, TemporaryFailure("421 try again later"), during=while_sending)
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    send(app, transport, now=lambda: moment)
    first = raw_in(kind, transport.mails[0].text)
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).status == "pending"
    assert_nowhere_stored(first)

    later = moment + dt.timedelta(hours=1)
    send(app, transport, now=lambda: later)
    delivered = raw_in(kind, body_text(inbox.wait_for(recipient)))
    assert delivered == raw_in(kind, transport.mails[1].text) != first  # a fresh link
    assert seen_sending == ["sending", "sending"]
    assert usable(kind, delivered) and not usable(kind, first)
    db.session.expire_all()
    sent = db.session.get(OutboxMessage, message.id)
    assert sent.status == "sent" and sent.subject  # the subject is kept, the link is not
    assert_nowhere_stored(delivered)


def test_a_mail_that_fails_for_good_or_stops_midway_keeps_no_link(app, settings):
    queue("login_link", settings)
    refused = Scripted(settings, PermanentFailure("550 no such user"))
    send(app, refused)
    assert db.session.scalars(select(OutboxMessage.status)).one() == "failed"
    assert_nowhere_stored(raw_in("login_link", refused.mails[0].text))

    db.session.execute(OutboxMessage.__table__.delete())
    queue_login_mail(db.session(), login.request_link(db.session(), "anna@example.com"), settings)
    db.session.commit()
    # the worker is stopped mid-conversation (an error in a mail fails that mail alone;
    # stopping the process does not go through the outbox's bookkeeping)
    crashed = Scripted(settings, SystemExit("the worker died"))
    with pytest.raises(SystemExit):
        send(app, crashed)
    db.session.expire_all()
    assert db.session.scalars(select(OutboxMessage.status)).one() == "sending"
    assert_nowhere_stored(raw_in("login_link", crashed.mails[0].text))


def test_a_link_for_an_address_removed_before_sending_is_not_sent(app, settings):
    queue("login_link", settings)
    debtor = db.session.scalars(select(login.Debtor)).one()
    debtor.emails = []
    db.session.commit()
    transport = Scripted(settings)
    result = send(app, transport)
    assert result.dropped == 1 and transport.mails == []


def test_admin_never_sees_a_login_link_and_the_person_gets_a_working_one(
    app, client, inbox, settings
):
    """Through the pages: the mail server is down when the link is asked for, so the mail
    waits in the outbox; a full admin reading it there finds no link in it."""
    from portal import tasks

    create_debtor(emails=["anna@example.com"])
    app.config["SETTINGS"] = dataclasses.replace(settings, smtp_url="smtp://127.0.0.1:1")
    try:
        client.post("/login", data={"email": "anna@example.com", "csrf_token": csrf(client)})
    finally:
        app.config["SETTINGS"] = settings
    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.status == "pending"  # nobody listened: it waits for the next round
    create_admin("boss@example.com")
    staff = app.test_client()
    admin_login(staff, "boss@example.com")
    for path in ("/admin/outbox", f"/admin/outbox/{message.id}"):
        page = staff.get(path)
        assert page.status_code == 200
        assert not re.search(LINKS["login_link"], page.get_data(as_text=True)), path

    waiting = db.session.get(OutboxMessage, message.id)
    waiting.next_attempt_at = waiting.created_at  # the retry is due
    db.session.commit()
    with app.app_context():
        tasks.send_outbox_now()
    raw = raw_in("login_link", body_text(inbox.wait_for("anna@example.com")))
    assert usable("login_link", raw)
    page = staff.get(f"/admin/outbox/{message.id}").get_data(as_text=True)
    assert raw not in page


def test_credential_mails_cannot_be_queued_with_their_body(app):
    with pytest.raises(ValueError):
        outbox.queue_email(
            db.session(),
            kind="admin_reset",
            recipient="boss@example.com",
            subject="Reset",
            body_text="http://portal.test/admin/password/reset/abc",
        )
