"""The team's work queue at scale: the worker's scan and My tasks.

PostgreSQL with 100,000 debtors owing 200,000 open invoices, 50,000 open tasks (a reason
each, for 20 admins or the team) and 10,000 promises whose day passed yesterday.

Prints the time of:
* the first scan after those promises broke (10,000 events: new tasks, or joined to an
  open task of the same reason), and of a second scan (nothing new: the steady state every
  ten minutes, which also refreshes every open task's priority);
* page views (server time through the app, median and 95th percentile of 20 views): My
  tasks of an admin, the team's tasks, everyone's tasks, one task's screen.
Not part of the test run.

    .venv/bin/python bench/worklist.py [--debtors 100000] [--tasks 50000] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portal_pages import DEFAULT_ADMIN_URL, SECRET, bench_database, insert_brand, migrate

DAY = dt.date(2026, 11, 24)
ADMINS = 20
REASONS = ("call", "broken_promise", "plan_breached", "address_bounced", "dispute_waiting")
ADMIN = ("bench@example.com", "a long bench password")


def fill(url: str, debtors: int, tasks: int, promises: int) -> None:
    """Debtors with open invoices, admins, open tasks, broken promises."""
    rng = random.Random(20)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        brand = insert_brand(cur)
        with cur.copy(
            "COPY debtor (id, brand_id, number, name, kind, language, phone, address_line,"
            " postcode, city, country, do_not_contact, created_at) FROM STDIN"
        ) as copy:
            for d in range(1, debtors + 1):
                copy.write_row(
                    (
                        d,
                        brand,
                        f"D{d:07d}",
                        f"Debtor {d}",
                        "b2c",
                        "nl",
                        "+31612345678",
                        "Kerkstraat 1",
                        "3511 AB",
                        "Utrecht",
                        "NL",
                        False,
                        "2026-01-01 00:00+00",
                    )
                )
        invoice_of: dict[int, int] = {}
        with cur.copy(
            "COPY invoice (id, brand_id, debtor_id, number, kind, invoice_date, due_date,"
            " currency, total_cents, open_cents, status, reference, description, hold_reason,"
            " has_original_pdf, created_at, updated_at) FROM STDIN"
        ) as copy:
            n = 0
            for d in range(1, debtors + 1):
                for _ in range(2):
                    n += 1
                    due = DAY - dt.timedelta(days=rng.randint(1, 90))
                    cents = rng.randint(2_000, 400_000)
                    invoice_of.setdefault(d, n)
                    copy.write_row(
                        (
                            n,
                            brand,
                            d,
                            f"I{n:08d}",
                            "invoice",
                            due - dt.timedelta(days=14),
                            due,
                            "EUR",
                            cents,
                            cents,
                            "open",
                            "",
                            "",
                            "",
                            False,
                            "2026-01-01 00:00+00",
                            "2026-01-01 00:00+00",
                        )
                    )
        cur.execute(
            "INSERT INTO admin_user (email, name, password_hash, role, active, totp_enabled,"
            " failed_logins, session_version, created_at, weekly_summary, language)"
            " SELECT 'clerk' || g || '@example.com', 'Clerk ' || g, 'x', 'clerk', true, false,"
            f" 0, 1, now(), false, 'nl' FROM generate_series(1, {ADMINS}) g RETURNING id"
        )
        admin_ids = [row[0] for row in cur.fetchall()]
        with cur.copy(
            "COPY work_task (debtor_id, reason, status, due_on, assignee_id, priority,"
            " at_stake_cents, currency, note, outcome, attempts, version, created_at,"
            " created_by, closed_by) FROM STDIN"
        ) as copy:
            for t in range(tasks):
                debtor = 1 + (t % debtors)
                reason = REASONS[(t // debtors) % len(REASONS)]
                assignee = None if rng.random() < 0.3 else rng.choice(admin_ids)
                due = DAY + dt.timedelta(days=rng.randint(-10, 10))
                copy.write_row(
                    (
                        debtor,
                        reason,
                        "open",
                        due,
                        assignee,
                        rng.randint(0, 100),
                        100_000,
                        "EUR",
                        "",
                        "",
                        0,
                        1,
                        "2026-11-01 00:00+00",
                        "system",
                        "",
                    )
                )
        with cur.copy(
            "COPY debtor_request (kind, state, debtor_id, invoice_id, reason, message,"
            " promise_date, details, outcome, paused_itself, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for p in range(promises):
                debtor = debtors - p  # from the other end: most have no open task of this kind
                copy.write_row(
                    (
                        "promise",
                        "open",
                        debtor,
                        invoice_of[debtor],
                        "",
                        "",
                        DAY - dt.timedelta(1),
                        "{}",
                        "",
                        True,
                        "2026-11-10 00:00+00",
                        "2026-11-10 00:00+00",
                    )
                )
        conn.commit()
        cur.execute("ANALYZE")


def timed(client, path: str) -> str:
    client.get(path)  # warm
    times = []
    for _ in range(20):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return (
        f"median {statistics.median(times):.0f} ms, p95 {times[int(len(times) * 0.95) - 1]:.0f} ms"
    )


def measure(url: str, instance: Path) -> None:
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET, PORTAL_INSTANCE_PATH=str(instance))
    from sqlalchemy import func, select

    from portal import create_app
    from portal.db import db
    from portal.domain import admins
    from portal.domain.worklist import events
    from portal.domain.worklist.models import WorkTask

    app = create_app()
    with app.app_context():
        for label in ("first scan", "second scan"):
            started = time.perf_counter()
            result = events.scan(db.session(), DAY, commit=db.session.commit)
            db.session.commit()
            print(
                f"{label}: {time.perf_counter() - started:.1f} s ({sum(result.made.values()):,}"
                f" tasks made, {result.joined:,} events joined to open tasks,"
                f" {result.closed:,} closed)"
            )
        open_tasks = db.session.scalar(
            select(func.count()).select_from(WorkTask).where(WorkTask.status == "open")
        )
        print(f"open tasks now: {open_tasks:,}")
        boss = admins.create_admin(db.session(), ADMIN[0], ADMIN[1], role="admin", by="bench")
        db.session.commit()
        task_id = db.session.scalar(select(func.min(WorkTask.id)))
        db.session.execute(
            WorkTask.__table__.update()
            .where(
                WorkTask.id.in_(select(WorkTask.id).where(WorkTask.status == "open").limit(2500))
            )
            .values(assignee_id=boss.id)
        )
        db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    client.post("/admin/login", data={"email": ADMIN[0], "password": ADMIN[1]})
    for path in (
        "/admin/tasks",
        "/admin/tasks?due=overdue",
        "/admin/tasks?view=team",
        "/admin/tasks/all",
        "/admin/tasks/all?page=200",
        f"/admin/tasks/{task_id}",
    ):
        print(f"  GET {path}: {timed(client, path)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--promises", type=int, default=10_000)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="admin URL")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, "bench_worklist", keep=args.keep) as url,
    ):
        instance = Path(tmp)
        print(
            f"postgresql: {args.debtors:,} debtors, {2 * args.debtors:,} open invoices,"
            f" {args.tasks:,} open tasks, {args.promises:,} promises broken, day {DAY}"
        )
        started = time.perf_counter()
        migrate(url, instance)
        fill(url, args.debtors, args.tasks, args.promises)
        print(f"filled in {time.perf_counter() - started:.0f} s")
        measure(url, instance)


if __name__ == "__main__":
    main()
