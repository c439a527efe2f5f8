"""Inserting many rows fast: COPY on PostgreSQL, executemany in chunks elsewhere."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any, cast

import psycopg
from sqlalchemy import JSON, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.db import Base

CHUNK = 5000
# the models a transaction bulk-inserted (no ORM objects for a session event to see);
# after the commit, portal/dispatch.py wakes the worker for them like for added objects
INSERTED = "bulk.inserted"


def insert_rows(session: Session, model: type[Base], rows: Iterable[dict[str, Any]]) -> None:
    """Insert plain rows in the session's transaction (no ORM objects, no RETURNING).

    Rows are consumed lazily, so a generator keeps memory flat for large batches. Large
    multi-row INSERT statements cost PostgreSQL's driver more to build than the database
    spends storing them; COPY streams the same rows for a fraction of that.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return
    session.info.setdefault(INSERTED, set()).add(model)
    table = cast(Table, model.__table__)
    columns = list(first)
    connection = session.connection()
    everything = itertools.chain([first], iterator)
    if connection.dialect.name != "postgresql":
        while chunk := list(itertools.islice(everything, CHUNK)):
            connection.execute(table.insert(), chunk)
        return
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    raw = connection.connection.driver_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in everything:
                copy.write_row(
                    [json.dumps(row[c]) if c in json_columns else row[c] for c in columns]
                )
    except psycopg.errors.IntegrityError as exc:  # as SQLAlchemy reports it on SQLite
        raise IntegrityError(statement, None, exc) from exc
