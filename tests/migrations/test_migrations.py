"""The migrations produce exactly the schema the models describe, on SQLite and PostgreSQL."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.db import Base, make_engine
from tests.conftest import fresh_postgres_database

PG_URL = os.environ.get("PORTAL_TEST_DB", "")


def upgrade(engine):
    from alembic import command

    from portal.cli import alembic_config

    cfg = alembic_config()
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, "head")


def assert_no_differences(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


@pytest.fixture
def fresh_engine(tmp_path):
    if not PG_URL:
        engine = make_engine(f"sqlite:///{tmp_path / 'migrate.db'}")
        yield engine
        engine.dispose()
        return
    with fresh_postgres_database("portal_migrate") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def test_migrations_match_the_models(fresh_engine):
    upgrade(fresh_engine)
    assert_no_differences(fresh_engine)


def test_upgrade_is_idempotent(fresh_engine):
    upgrade(fresh_engine)
    upgrade(fresh_engine)
    assert_no_differences(fresh_engine)


def test_downgrade_to_base_and_up_again(fresh_engine):
    from alembic import command

    from portal.cli import alembic_config

    upgrade(fresh_engine)
    cfg = alembic_config()
    cfg.attributes["engine"] = fresh_engine
    command.downgrade(cfg, "base")
    upgrade(fresh_engine)
    assert_no_differences(fresh_engine)


def test_migration_files_have_dated_names():
    import pathlib
    import re

    versions = pathlib.Path(__file__).parents[2] / "migrations" / "versions"
    names = [p.name for p in versions.glob("*.py")]
    assert names
    assert all(re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}-\w+\.py$", n) for n in names), names


def test_upgrade_keeps_data_in_tables_that_are_rebuilt(fresh_engine):
    """A constraint change rebuilds the table on SQLite; rows that refer to it survive."""
    import datetime as dt

    from alembic import command
    from sqlalchemy import text

    from portal.cli import alembic_config

    cfg = alembic_config()
    cfg.attributes["engine"] = fresh_engine
    command.upgrade(cfg, "c4d1a6babae1")  # before "costs and interest" rebuilt invoice
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO brand (id, slug, name, primary_color, accent_color, font,"
                " sender_name, sender_email, support_email, support_phone, iban,"
                " enterprise_number, vat_number, address, country, default_language,"
                " payment_methods, updated_at) VALUES (1, 'b', 'B', '#000000', '#000000',"
                " 'system', '', '', '', '', '', '', '', '', 'NL', 'nl', 'ideal', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO debtor (id, brand_id, number, name, kind, language, phone,"
                " address_line, postcode, city, country, created_at, do_not_contact) VALUES"
                " (1, 1, 'D1', 'Debtor', 'b2c', 'nl', '', '', '', '', 'NL', :now, false)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO invoice (id, brand_id, debtor_id, number, kind, invoice_date,"
                " due_date, currency, total_cents, open_cents, status, reference,"
                " description, hold_reason, has_original_pdf, created_at, updated_at)"
                " VALUES (1, 1, 1, 'F1', 'invoice', '2026-10-01', '2026-10-15', 'EUR',"
                " 1000, 1000, 'open', '', '', '', false, :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO invoice_reminder (invoice_id, step_id, sent_on)"
                " SELECT 1, id, '2026-10-22' FROM reminder_step LIMIT 1"
            )
        )
    upgrade(fresh_engine)
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM invoice_reminder")).scalar() == 1
        assert conn.execute(text("SELECT number FROM invoice")).scalar() == "F1"
    assert_no_differences(fresh_engine)


def test_upgrade_gives_customers_to_their_key_and_clears_links_from_the_outbox(fresh_engine):
    """Customers a key created before keys owned customers are found in the audit log;
    credential mails queued before links were made when sent lose their links."""
    import datetime as dt

    from alembic import command
    from sqlalchemy import text

    from portal.cli import alembic_config

    cfg = alembic_config()
    cfg.attributes["engine"] = fresh_engine
    command.upgrade(cfg, "5b1916f27469")
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO brand (id, slug, name, primary_color, accent_color, font,"
                " sender_name, sender_email, support_email, support_phone, iban,"
                " enterprise_number, vat_number, address, country, default_language,"
                " payment_methods, updated_at) VALUES (1, 'b', 'B', '#000000', '#000000',"
                " 'system', '', '', '', '', '', '', '', '', 'NL', 'nl', 'ideal', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO api_key (id, brand_id, label, prefix, key_hash, test_mode,"
                " created_by, created_at) VALUES (7, 1, 'shop', 'bp_live_x', 'h', false, '',"
                " :now)"
            ),
            {"now": now},
        )
        for debtor_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO debtor (id, brand_id, number, name, kind, language, phone,"
                    " address_line, postcode, city, country, created_at, do_not_contact)"
                    " VALUES (:id, 1, :number, 'Debtor', 'b2c', 'nl', '', '', '', '', 'NL',"
                    " :now, false)"
                ),
                {"id": debtor_id, "number": f"D{debtor_id}", "now": now},
            )
        conn.execute(
            text(
                "INSERT INTO audit_event (at, actor, action, debtor_id, details) VALUES"
                " (:now, 'api:7', 'debtor.created', 1, '{}'),"
                " (:now, 'admin:1', 'admin.debtor_updated', 2, '{}')"
            ),
            {"now": now},
        )
        for kind, status, body in (
            ("login_link", "pending", "http://x/login/LIVE-LOGIN"),
            ("email_confirm", "sent", "http://x/contact/confirm/LIVE-CONFIRM"),
            ("admin_reset", "failed", "http://x/admin/password/reset/LIVE-RESET"),
            ("reminder", "pending", "Please pay"),
        ):
            conn.execute(
                text(
                    "INSERT INTO outbox_message (channel, kind, recipient, subject, body_text,"
                    " body_html, sender, status, attempts, last_error, created_at,"
                    " next_attempt_at) VALUES ('email', :kind, 'a@example.com', 's', :body,"
                    " :body, '', :status, 0, '', :now, :now)"
                ),
                {"kind": kind, "status": status, "body": body, "now": now},
            )
    upgrade(fresh_engine)
    with fresh_engine.connect() as conn:
        owners = dict(conn.execute(text("SELECT id, api_key_id FROM debtor ORDER BY id")).all())
        rows = conn.execute(
            text("SELECT kind, status, body_text, body_html FROM outbox_message ORDER BY id")
        ).all()
    assert owners == {1: 7, 2: None}  # the imported customer belongs to no key
    assert [(r.kind, r.status) for r in rows] == [
        ("login_link", "failed"),  # not sent: the person asks again
        ("email_confirm", "sent"),
        ("admin_reset", "failed"),
        ("reminder", "pending"),
    ]
    assert not any("LIVE" in r.body_text + r.body_html for r in rows)
    assert rows[3].body_text == "Please pay"
