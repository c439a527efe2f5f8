"""`flask backup FILE`: a consistent copy of the database while the portal runs.

- SQLite: the online backup API (sqlite3's `Connection.backup`), page by page from a
  read-only connection, so writers carry on; restore by stopping the portal and copying
  the file over the database file.
- PostgreSQL: `pg_dump --format=custom` (pg_dump must be installed, of the server's
  major version or newer); restore with `pg_restore --no-owner --dbname=...` into an
  empty database. For point-in-time recovery use PostgreSQL's WAL archiving as well
  (README, "Backups").

The copy is written beside the target and renamed when complete, so a file with the
target's name is always a whole backup.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The backup could not be made; the message says why."""


def backup(database_url: str, target: Path) -> str:
    """Copy the database at `database_url` to `target`; returns how ("sqlite", "pg_dump")."""
    url = make_url(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite(url.database or "", partial)
            how = "sqlite"
        elif url.get_backend_name() == "postgresql":
            _pg_dump(database_url, partial)
            how = "pg_dump"
        else:
            raise BackupError(f"no backup for {url.get_backend_name()} databases")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return how


def _sqlite(path: str, partial: Path) -> None:
    if not path or path == ":memory:" or not Path(path).exists():
        raise BackupError(f"no SQLite database file at {path!r}")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def _pg_dump(database_url: str, partial: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line, where ps shows it
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run(  # noqa: S603 (pg_dump with our own database's address)
        [pg_dump, "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={libpq}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
