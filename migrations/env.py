"""Alembic environment: runs against the app's engine, compares with portal.models."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection, Engine

import portal.models  # noqa: F401  (registers every table on Base.metadata)
from portal.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    from portal.config import Settings

    return make_engine(Settings.from_env().database_url)


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """SQLite rebuilds a table to change a constraint (batch mode); with foreign keys on,
    dropping the old copy of a table that other rows refer to fails. Off during the
    migration (set on the raw connection: the pragma is ignored inside a transaction),
    then checked and on again."""
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        return
    raw = connection.connection.driver_connection
    if on:
        dangling = raw.execute("PRAGMA foreign_key_check").fetchall()
        if dangling:
            raise RuntimeError(f"migration left rows without their parent: {dangling[:5]}")
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(
            connection=connectable, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
        )
        _sqlite_foreign_keys(connection, on=False)
        with context.begin_transaction():
            context.run_migrations()
        _sqlite_foreign_keys(connection, on=True)


run_migrations_online()
