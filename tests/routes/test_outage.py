"""Error pages when the database is gone: rendered anyway, in the person's language and
the right layout, never Werkzeug's bare "Internal Server Error"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy.engine import make_url

from portal.db import db, make_engine
from tests.admin.test_admin import admin_login
from tests.conftest import PG_URL, english_client, free_port, login_as
from tests.factories import create_admin, create_debtor


@contextmanager
def database_unreachable() -> Iterator[None]:
    """Point the app's sessions at an address where no database listens, then back."""
    if PG_URL:
        url = make_url(PG_URL).set(port=free_port()).render_as_string(hide_password=False)
    else:
        url = "sqlite:////nonexistent-folder/portal.db"
    dead = make_engine(url)
    bound = db.factory.kw["bind"]
    db.session.remove()
    db.factory.configure(bind=dead)
    try:
        yield
    finally:
        db.session.remove()
        db.factory.configure(bind=bound)
        dead.dispose()


@contextmanager
def broken_view(app: Flask, endpoint: str) -> Iterator[None]:
    """A view that fails with a bug (not a database problem)."""
    original = app.view_functions[endpoint]

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    app.view_functions[endpoint] = boom
    try:
        yield
    finally:
        app.view_functions[endpoint] = original


def test_a_signed_in_debtor_gets_the_portals_page_in_their_language(app):
    debtor = create_debtor(language="nl")
    dutch = app.test_client()
    dutch.environ_base["HTTP_ACCEPT_LANGUAGE"] = "nl"
    login_as(dutch, debtor)
    with database_unreachable():
        response = dutch.get("/overview")
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert '<html lang="nl"' in html and "Probeer het zo opnieuw" in html
    assert "css/portal.css" in html and 'href="/overview"' in html  # try again
    assert "Internal Server Error" not in html


def test_a_bug_while_the_database_is_down_gets_the_500_page(app, client):
    debtor = create_debtor()
    login_as(client, debtor)
    with database_unreachable(), broken_view(app, "portal.overview"):
        response = client.get("/overview")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert '<html lang="en"' in html and "Something went wrong" in html
    assert "Internal Server Error" not in html


def test_the_brand_read_before_the_database_went_away_keeps_its_face(app, client):
    from sqlalchemy.exc import OperationalError

    from portal.debtor_session import signed_in_debtor

    debtor = create_debtor()
    brand_name = debtor.brand.name
    login_as(client, debtor)
    original = app.view_functions["portal.overview"]

    def connection_lost_midway() -> None:
        assert signed_in_debtor().brand.name  # read while the database was there
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    app.view_functions["portal.overview"] = connection_lost_midway
    try:
        response = client.get("/overview")
    finally:
        app.view_functions["portal.overview"] = original
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert f"<span>{brand_name}</span>" in html and "Please try again" in html


def test_admin_pages_get_the_admin_layout_and_no_hook_reads_the_failed_session(app):
    create_admin("boss@example.com")
    staff = english_client(app)
    admin_login(staff, "boss@example.com")
    cookie = staff.get_cookie("bp_admin", domain="portal.test", path="/admin")
    assert cookie is not None
    with database_unreachable():
        response = staff.get("/admin/")
        broken = staff.get("/admin/outbox?status=doubt")
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and broken.status_code == 503
    assert "Betaalportaal admin" in html and "css/admin.css" in html
    assert "The database cannot be reached" in html
    # the idle-timeout hook left the cookie alone instead of reading the admin again
    assert "bp_admin" not in response.headers.get("Set-Cookie", "")


def test_an_admin_bug_gets_the_admin_500_page(app):
    create_admin("boss@example.com")
    staff = english_client(app)
    admin_login(staff, "boss@example.com")
    with broken_view(app, "admin.dashboard"):
        response = staff.get("/admin/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Betaalportaal admin" in html and "nothing was saved" in html
