import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain import login
from portal.models import LoginToken
from tests.factories import create_debtor

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def at(moment):
    return lambda: moment


def request(email, moment=T0):
    """Ask for a link and issue it at once (the worker does this when it sends the mail)."""
    asked = login.request_link(db.session, email, now=at(moment))
    if asked is None:
        return None
    return login.issue(db.session, asked.token_id, now=at(moment))


def test_link_holds_a_32_byte_token_and_only_its_hash_is_stored(app):
    create_debtor(emails=["Anna@Example.com"])
    raw = request("  anna@example.COM ")
    db.session.commit()
    assert len(raw) == 43  # 32 random bytes, base64url
    stored = db.session.scalars(select(LoginToken)).one()
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in stored.token_hash
    assert stored.email == "anna@example.com"
    assert stored.expires_at == T0 + dt.timedelta(minutes=15)


def test_a_requested_link_works_only_once_issued_and_its_minutes_start_then(app):
    create_debtor(emails=["anna@example.com"])
    asked = login.request_link(db.session, "anna@example.com", now=at(T0))
    assert db.session.get(LoginToken, asked.token_id).expires_at <= T0  # nothing usable yet
    sent_at = T0 + dt.timedelta(minutes=40)  # the mail waited in the outbox
    first = login.issue(db.session, asked.token_id, now=at(sent_at))
    again = login.issue(db.session, asked.token_id, now=at(sent_at))  # a retried send
    with pytest.raises(login.InvalidToken) as info:
        login.check_token(db.session, first, now=at(sent_at))
    assert info.value.problem == login.TokenProblem.UNKNOWN  # the retry replaced it
    late = sent_at + dt.timedelta(minutes=14)
    assert login.check_token(db.session, again, now=at(late)) == "anna@example.com"
    login.consume_token(db.session, again, now=at(late))
    assert login.issue(db.session, asked.token_id, now=at(late)) is None  # used: no more


def test_unknown_address_creates_nothing(app):
    create_debtor(emails=["anna@example.com"])
    assert request("nobody@example.com") is None
    assert db.session.scalars(select(LoginToken)).all() == []


def test_token_works_once(app):
    debtor = create_debtor(emails=["anna@example.com"])
    raw = request("anna@example.com")
    assert [d.id for d in login.consume_token(db.session, raw, now=at(T0)).debtors] == [debtor.id]
    with pytest.raises(login.InvalidToken) as info:
        login.consume_token(db.session, raw, now=at(T0))
    assert info.value.problem == login.TokenProblem.USED


def test_token_expires_after_15_minutes(app):
    create_debtor(emails=["anna@example.com"])
    raw = request("anna@example.com")
    assert login.check_token(db.session, raw, now=at(T0 + dt.timedelta(minutes=14, seconds=59)))
    with pytest.raises(login.InvalidToken) as info:
        login.consume_token(db.session, raw, now=at(T0 + dt.timedelta(minutes=15)))
    assert info.value.problem == login.TokenProblem.EXPIRED


@pytest.mark.parametrize("raw", ["", "short", "x" * 43, "../../etc/passwd", "é" * 43])
def test_garbled_or_unknown_tokens_are_refused(app, raw):
    with pytest.raises(login.InvalidToken) as info:
        login.consume_token(db.session, raw, now=at(T0))
    assert info.value.problem == login.TokenProblem.UNKNOWN


def test_checking_a_link_does_not_use_it(app):
    create_debtor(emails=["anna@example.com"])
    raw = request("anna@example.com")
    login.check_token(db.session, raw, now=at(T0))
    login.check_token(db.session, raw, now=at(T0))
    assert login.consume_token(db.session, raw, now=at(T0))


def test_shared_address_opens_every_account_it_belongs_to(app):
    a = create_debtor(emails=["office@accountant.example"], name="Bakkerij Aa")
    b = create_debtor(emails=["office@accountant.example", "own@b.example"], name="Bouw Bb")
    create_debtor(emails=["other@example.com"])
    raw = request("office@accountant.example")
    opened = login.consume_token(db.session, raw, now=at(T0))
    assert [d.id for d in opened.debtors] == [a.id, b.id]
    assert opened.email == "office@accountant.example"
    assert opened.versions == {a.id: 1, b.id: 1}
