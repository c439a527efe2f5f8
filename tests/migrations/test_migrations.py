"""The migrations produce exactly the schema the models describe, on SQLite and PostgreSQL."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal.db import Base, make_engine

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
    name = f"portal_migrate_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
