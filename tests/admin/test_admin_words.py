"""One clock and plain words in admin: times in PORTAL_TIMEZONE with the zone named,
actors, actions, message kinds and import states in words, invoices by their number."""

from __future__ import annotations

import datetime as dt

from admin import words
from portal.db import db
from portal.domain import audit
from portal.domain.messaging import templates
from portal.domain.messaging.outbox import queue_email
from tests.admin.test_admin import admin_login
from tests.factories import create_admin, create_brand, create_debtor, create_invoice

LATE = dt.datetime(2026, 12, 4, 23, 30, tzinfo=dt.UTC)  # already 5 December in Amsterdam


def test_a_moment_is_shown_in_the_portal_timezone_with_the_zone_named(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert words.local_time(LATE) == "5 Dec 2026, 00:30 CET"
        summer = dt.datetime(2026, 7, 1, 12, 0, 5, tzinfo=dt.UTC)
        assert words.local_time(summer, seconds=True) == "1 Jul 2026, 14:00:05 CEST"
        assert words.local_date(LATE) == "5 Dec 2026"
        assert words.local_time(None) == "–"


def test_the_outbox_shows_local_times_and_kinds_in_words(client):
    boss = create_admin("boss@example.com")
    message = queue_email(
        db.session(),
        kind="request_update",
        recipient="petra@example.com",
        subject="About your question",
        body_text="Answer",
    )
    message.created_at = LATE
    db.session.commit()
    admin_login(client, boss.email)
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "5 Dec 2026, 00:30 CET" in page and ">4 Dec 2026" not in page
    assert "Answer to a request" in page and ">request_update<" not in page
    detail = client.get(f"/admin/outbox/{message.id}").get_data(as_text=True)
    assert "Answer to a request" in detail and "5 Dec 2026, 00:30 CET" in detail


def test_the_audit_log_names_people_and_actions_in_words(client):
    boss = create_admin("boss@example.com")
    debtor = create_debtor(name="Petra de Vries", number="K-1001")
    event = audit.record(db.session(), f"admin:{boss.id}", "admin.template_saved", key="receipt")
    event.at = LATE
    audit.record(db.session(), f"admin:{boss.id}", "admin.debtor_updated", debtor_id=debtor.id)
    db.session.commit()
    admin_login(client, boss.email)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "Message text saved" in page and "admin.template_saved" not in page
    assert "Contact data changed" in page
    assert f"admin:{boss.id}" not in page and "boss@example.com" in page
    assert "5 Dec 2026, 00:30:00 CET" in page


def test_a_debtor_history_names_the_invoice_and_who_did_it(client):
    boss = create_admin("boss@example.com")
    debtor = create_debtor(name="Petra de Vries", number="K-1001")
    invoice = create_invoice(debtor, number="ZU-2026-042")
    audit.record(
        db.session(),
        f"debtor:{debtor.id}",
        "request.dispute",
        debtor_id=debtor.id,
        invoice_id=invoice.id,
    )
    db.session.commit()
    admin_login(client, boss.email)
    page = client.get(f"/admin/debtors/{debtor.id}").get_data(as_text=True)
    history = page[page.index('<ol class="timeline">') :]
    history = history[: history.index("</ol>")]
    assert "ZU-2026-042" in history and f"#{invoice.id}" not in history
    assert "Petra de Vries (customer K-1001)" in history and f"debtor:{debtor.id}" not in history


def test_every_message_kind_and_actor_has_words_in_dutch(app):
    with app.test_request_context(headers={"Accept-Language": "nl"}):
        for kind in [*templates.SPECS, "admin_reset", "insight_weekly", "template_test"]:
            assert words.message_kind(kind) != kind, kind
        for actor in ("system", "cli", "seed", "admin:?"):
            assert words.actor_name(actor) != actor
        assert words.job_status("queued") == "wacht op de worker"
        assert words.request_action("reply") == "antwoordde"


def test_an_unknown_action_shows_its_code_rather_than_nothing(app):
    create_brand()
    event = audit.record(db.session(), "system", "something.new")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert words.action_label(event) == "something.new"
