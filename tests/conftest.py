"""Test harness: a real database (SQLite, or PostgreSQL via PORTAL_TEST_DB) with
per-test rollback, a real SMTP server, and helpers to log in as a debtor."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete, insert, select, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.cli import upgrade_database
from portal.config import Settings
from portal.db import Base, db
from portal.extensions import limiter
from portal.models import Debtor

PG_URL = os.environ.get("PORTAL_TEST_DB", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- SMTP
@dataclass
class Inbox:
    """Mail received by the test SMTP server, which can also misbehave on request
    (`misbehave`): answer 451/421/550 to the recipient, drop the connection after the
    mail's data, or hold back its final reply."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rcpt_reply: str = ""  # e.g. "451 4.7.1 Try again later": refuse every recipient so
    drop_after_data: bool = False  # keep the mail, then hang up before answering
    reply_delay: float = 0.0  # seconds before the 250 that accepts the mail

    def misbehave(
        self, rcpt_reply: str = "", *, drop_after_data: bool = False, reply_delay: float = 0.0
    ) -> None:
        """How the server answers from now on (no arguments: normally again)."""
        self.rcpt_reply = rcpt_reply
        self.drop_after_data = drop_after_data
        self.reply_delay = reply_delay

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        if self.drop_after_data:
            server.transport.close()  # the acknowledgement is lost: the client cannot know
            return "421 closing"
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
        self.misbehave()

    def wait_for(self, recipient: str, timeout: float = 10.0) -> EmailMessage:
        """The newest mail to `recipient`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in reversed(self.messages):
                    if recipient.lower() in str(message["To"]).lower():
                        return message
            time.sleep(0.05)
        raise AssertionError(f"no mail to {recipient} within {timeout}s")

    def to(self, recipient: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if recipient.lower() in str(m["To"]).lower()]


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def link_in(message: EmailMessage) -> str:
    match = re.search(r"https?://\S+/login/[A-Za-z0-9_-]+", body_text(message))
    assert match, "no login link in the mail"
    return match.group(0)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[Inbox, int]) -> Inbox:
    smtp_server[0].clear()
    return smtp_server[0]


# ------------------------------------------------------------------------ database
def _worker() -> str:
    """Unique per test process and run, so parallel runs on one server never collide."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:8]
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{run}"


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database on PORTAL_TEST_DB's server; drop it afterwards."""
    name = f"{prefix}_{_worker()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this test process (the app fixture migrates it)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.db'}"
        return
    with fresh_postgres_database("portal_test") as url:
        yield url
        if db.engine is not None:
            db.engine.dispose()


@pytest.fixture(scope="session")
def settings(
    database_url: str, smtp_server: tuple[Inbox, int], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        instance_path=Path(tmp_path_factory.mktemp("instance")),
        database_url=database_url,
        secret_key="test-secret-key",
        base_url="http://portal.test",
        smtp_url=f"smtp://127.0.0.1:{smtp_server[1]}",
        huey_immediate=True,
    ).validated()


@pytest.fixture(scope="session")
def app(settings: Settings) -> Flask:
    application = create_app(settings)
    # portal.test does not resolve: the sandbox posts its webhooks only where a server
    # listens (the e2e live server turns this back on)
    application.config.update(TESTING=True, SERVER_NAME="portal.test", SANDBOX_WEBHOOKS_OFF=True)
    with application.app_context():
        upgrade_database()
        remember_shipped_rows()
    return application


@pytest.fixture(autouse=True)
def _transaction(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs in a transaction that is rolled back (not for e2e tests).

    The app's own commits only release savepoints; each request's teardown closes
    the session, so test data must be committed (the factories do) before a request.
    """
    if (
        request.node.get_closest_marker("e2e")
        or request.node.get_closest_marker("committed")
        or "app" not in request.fixturenames
    ):
        yield
        return
    request.getfixturevalue("app")
    limiter.reset()  # rate limits are on, as in production; each test starts with none used
    assert db.engine is not None
    connection = db.engine.connect()
    outer = connection.begin()
    db.factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        db.session.remove()
        outer.rollback()
        connection.close()
        db.factory.configure(bind=db.engine)


# rows the migrations ship (default schedules, statutory interest rates): emptying the
# tables puts them back, or every later test in the same process would run without them
SHIPPED = ("reminder_schedule", "reminder_step", "interest_rate")
_shipped_rows: dict[str, list[dict[str, object]]] = {}


def remember_shipped_rows() -> None:
    """Keep what the migrations inserted, right after migrating."""
    assert db.engine is not None
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in SHIPPED:
                rows = conn.execute(select(table)).mappings()
                _shipped_rows[table.name] = [dict(row) for row in rows]


def empty_tables() -> None:
    """Delete every row but what the migrations ship (tests that commit for real start and
    end with this)."""
    assert db.engine is not None
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
        for table in Base.metadata.sorted_tables:
            if _shipped_rows.get(table.name):
                conn.execute(insert(table), _shipped_rows[table.name])


@pytest.fixture
def committed(app: Flask) -> Iterator[None]:
    """For tests marked `committed`: real commits on empty tables, emptied afterwards."""
    empty_tables()
    try:
        yield
    finally:
        db.session.remove()
        empty_tables()


def english_client(app: Flask) -> FlaskClient:
    """A browser that prefers English (the portal's own default is Dutch)."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return test_client


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return english_client(app)


# ------------------------------------------------------------------------- helpers
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """A valid CSRF token for this client's session."""
    return csrf_from(client.get(path).get_data(as_text=True))


def login_as(client: FlaskClient, *debtors: Debtor) -> None:
    """Put a logged-in debtor session on the client (the flow itself is tested elsewhere)."""
    from portal.domain.login import session_versions

    email = debtors[0].primary_email
    versions = session_versions(db.session(), email, [d.id for d in debtors])
    db.session.commit()  # the read began a transaction: the next request starts afresh
    with client.session_transaction() as sess:
        sess["debtor_ids"] = [d.id for d in debtors]
        sess["email"] = email
        sess["versions"] = [versions.get(d.id, 0) for d in debtors]
        sess["seen"] = int(time.time())
        if len(debtors) == 1:
            sess["debtor_id"] = debtors[0].id


__all__ = ["Base", "body_text", "csrf", "csrf_from", "link_in", "login_as"]
