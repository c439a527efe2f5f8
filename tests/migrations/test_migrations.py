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
