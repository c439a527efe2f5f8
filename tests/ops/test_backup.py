"""Backups you can restore: `flask backup` while the portal runs, restored into a fresh
database the way the README says, and a debtor signs in on the restored copy (in a
process of its own, as a restored server would)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, fresh_postgres_database
from tests.factories import create_debtor, create_invoice

ROOT = Path(__file__).resolve().parents[2]

SIGN_IN = textwrap.dedent(
    """
    import json, re, sys
    from urllib.parse import urlsplit
    from portal import create_app
    from portal.db import db
    from portal.demo import login_link_for

    app = create_app()
    settings = app.config["SETTINGS"]
    with app.app_context():
        link = login_link_for(db.session(), settings, sys.argv[1])
        late = login_link_for(db.session(), settings, sys.argv[2])
        db.session.commit()
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    path = urlsplit(link).path
    button = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', button).group(1)
    page = client.post(path, data={"csrf_token": token}, follow_redirects=True)
    ready = client.get("/readyz").get_json()
    print("RESULT " + json.dumps({
        "status": page.status_code,
        "page": page.get_data(as_text=True),
        "late": late,
        "migrations": ready["checks"]["migrations"],
    }))
    """
)


def restore(backup: Path, tmp_path: Path, stack) -> str:
    """Restore as the README says; the restored database's URL."""
    if not PG_URL:
        restored = tmp_path / "restored.db"
        shutil.copyfile(backup, restored)  # the portal stopped, the file copied over
        return f"sqlite:///{restored}"
    url = stack.enter_context(fresh_postgres_database("portal_restore"))
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(  # noqa: S603
        [shutil.which("pg_restore") or "pg_restore", "--no-owner", f"--dbname={libpq}", backup],
        check=True,
        capture_output=True,
    )
    return url


@pytest.mark.committed
def test_a_backup_restores_into_a_fresh_database_where_a_debtor_signs_in(app, committed, tmp_path):
    from contextlib import ExitStack

    debtor = create_debtor(name="Jet Backup", emails=["jet@example.com"])
    create_invoice(debtor, number="INV-KEPT-1")
    target = tmp_path / "nightly" / "portal.backup"
    made = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert made.exit_code == 0, made.output
    assert target.exists() and not target.with_name("portal.backup.partial").exists()
    create_debtor(name="Late Comer", emails=["late@example.com"])  # after the backup

    with ExitStack() as stack:
        url = restore(target, tmp_path, stack)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DATABASE"))}
        env.update(DATABASE_URL=url, PORTAL_INSTANCE_PATH=str(tmp_path / "instance"))
        done = subprocess.run(  # noqa: S603 (the portal on the restored copy)
            [sys.executable, "-c", SIGN_IN, "jet@example.com", "late@example.com"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["status"] == 200
    assert "INV-KEPT-1" in result["page"] and "Jet Backup" in result["page"]
    assert result["late"] is None  # made after the backup: not in it
    assert result["migrations"] == "ok"


def test_backup_says_why_when_it_cannot(app, tmp_path, monkeypatch):
    if PG_URL:
        monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump to be found
        reason = "pg_dump is not installed"
    else:
        import dataclasses

        settings = dataclasses.replace(
            app.config["SETTINGS"], database_url=f"sqlite:///{tmp_path}/missing.db"
        )
        monkeypatch.setitem(app.config, "SETTINGS", settings)
        reason = "no SQLite database file"
    failed = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.backup")])
    assert failed.exit_code == 1 and reason in failed.output
    assert not (tmp_path / "x.backup").exists()
