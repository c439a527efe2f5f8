"""Inserting many rows fast: COPY on PostgreSQL, executemany elsewhere."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

from portal.db import Base


def insert_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert plain rows in the session's transaction (no ORM objects, no RETURNING).

    Large multi-row INSERT statements cost PostgreSQL's driver more to build than the
    database spends storing them; COPY streams the same rows for a fraction of that.
    """
    if not rows:
        return
    table = cast(Table, model.__table__)
    columns = list(rows[0])
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), list(rows))
        return
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    raw = connection.connection.driver_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
