"""Dunning speed: the daily evaluation (which invoice reached which step) and the full run.

Invoices of consumers in the Netherlands follow the default schedule; their due dates are
spread over the 100 days before the bench date and the steps they have passed are already
recorded, except that about 4% missed a run. So roughly 10% of invoices are due for a step
on the bench date (DESIGN.md section 9). Prints the time of `due_steps` (one SQL query)
and, with --full-run, of `engine.run` (groups, (invoice, step) records and one
outbox row per message; the mails are written when sent). With --smtp N it then sends N
of those messages to a local SMTP server (aiosmtpd) through the outbox worker's code,
rendering each one, with the rate limit off. Not part of the test run.

    .venv/bin/python bench/dunning.py --db postgresql --invoices 1000000 --debtors 200000 --full-run
    .venv/bin/python bench/dunning.py --db sqlite --invoices 100000 --debtors 20000 \
        --full-run --smtp 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portal_pages import DEFAULT_ADMIN_URL, SECRET, bench_database, migrate

DAY = dt.date(2026, 11, 24)
STEPS = [(1, -3), (2, 7), (3, 14), (4, 21), (5, 28), (6, 45)]  # Consumers NL: (position, offset)


def rows(debtors: int, invoices: int, step_ids: dict[int, int]) -> Iterator[tuple[str, tuple]]:
    """('debtor'|'email'|'invoice'|'reminder', row) in load order."""
    rng = random.Random(24)
    for d in range(1, debtors + 1):
        yield (
            "debtor",
            (
                d,
                1,
                f"D{d:07d}",
                f"Debtor {d}",
                "b2c",
                "nl",
                "",
                "",
                "",
                "",
                "NL",
                False,
                "2026-01-01",
            ),
        )
        yield "email", (d, f"debtor{d}@example.com")
    for n in range(1, invoices + 1):
        age = rng.randrange(-5, 100)  # days past the due date on the bench date
        due = DAY - dt.timedelta(days=age)
        debtor = 1 + n % debtors
        yield (
            "invoice",
            (
                n,
                1,
                debtor,
                f"F{n:08d}",
                "invoice",
                due - dt.timedelta(days=14),
                due,
                "EUR",
                12100,
                12100,
                "open",
                "",
                "",
                "",
                False,
                "2026-01-01",
                "2026-01-01",
            ),
        )
        reached = [(pos, off) for pos, off in STEPS if off <= age and (off >= 0 or age <= 0)]
        done = [s for s in reached if s[1] < age]  # the step of today itself is not done
        if done and rng.random() < 0.04:
            done = done[:-1]  # a missed run: its last step is still due
        for pos, off in done:
            yield "reminder", (n, step_ids[pos], due + dt.timedelta(days=off))


COLUMNS = {
    "debtor": "debtor (id, brand_id, number, name, kind, language, phone, address_line,"
    " postcode, city, country, do_not_contact, created_at)",
    "email": "debtor_email (debtor_id, email)",
    "invoice": "invoice (id, brand_id, debtor_id, number, kind, invoice_date, due_date, currency,"
    " total_cents, open_cents, status, reference, description, hold_reason, has_original_pdf,"
    " created_at, updated_at)",
    "reminder": "invoice_reminder (invoice_id, step_id, sent_on)",
}
BRAND = (
    "INSERT INTO brand (id, slug, name, primary_color, accent_color, font, sender_name,"
    " sender_email, support_email, support_phone, iban, enterprise_number, vat_number, address,"
    " country, default_language, payment_methods, updated_at) VALUES (1, 'a', 'Brand A',"
    " '#0f766e', '#f59e0b', 'system', 'A', 'a@x.example', 's@x.example', '',"
    " 'NL91ABNA0417164300', '', '', '', 'NL', 'nl', 'ideal', '2026-01-01')"
)


def fill_postgres(url: str, debtors: int, invoices: int) -> None:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute(BRAND)
        step_ids = dict(cur.execute("SELECT position, id FROM reminder_step WHERE schedule_id = 1"))
        pending: dict[str, list[tuple]] = {kind: [] for kind in COLUMNS}
        for kind, row in rows(debtors, invoices, step_ids):
            pending[kind].append(row)
        for kind in ("debtor", "email", "invoice", "reminder"):
            with cur.copy(f"COPY {COLUMNS[kind]} FROM STDIN") as copy:
                for row in pending.pop(kind):
                    copy.write_row(row)
        for table in ("debtor", "invoice"):
            cur.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        cur.execute("ANALYZE")
        conn.commit()


def fill_sqlite(path: Path, debtors: int, invoices: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute(BRAND)
    step_ids = dict(conn.execute("SELECT position, id FROM reminder_step WHERE schedule_id = 1"))
    for kind, row in rows(debtors, invoices, step_ids):
        width = len(row)
        conn.execute(f"INSERT INTO {COLUMNS[kind]} VALUES ({', '.join('?' * width)})", row)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


@contextmanager
def app_for(url: str, instance: Path) -> Iterator[object]:
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET, PORTAL_INSTANCE_PATH=str(instance))
    from portal import create_app

    yield create_app()


def measure(url: str, instance: Path, full_run: bool, smtp: int) -> None:

    from portal.db import db
    from portal.domain.dunning import engine
    from portal.mails import ReminderMails
    from portal.models import utcnow

    with app_for(url, instance) as app, app.app_context():  # type: ignore[attr-defined]
        started = time.perf_counter()
        due = engine.due_steps(db.session(), DAY)
        evaluation = time.perf_counter() - started
        total = db.session.execute(
            db.session.bind.dialect
            and __import__("sqlalchemy").text("SELECT count(*) FROM invoice")
        ).scalar_one()
        print(
            f"evaluation (one query): {evaluation:.2f} s, {len(due):,} of {total:,} invoices "
            f"due ({len(due) / total:.1%})"
        )
        db.session.rollback()
        started = time.perf_counter()
        engine.count_and_store(db.session(), DAY, utcnow())
        db.session.commit()
        counting = time.perf_counter() - started
        started = time.perf_counter()
        engine.stored_preview(db.session(), DAY)
        reading = time.perf_counter() - started
        print(
            f"dashboard preview: counted by the worker in {counting:.2f} s, "
            f"read by a page view in {reading * 1000:.1f} ms"
        )
        db.session.rollback()
        if full_run:
            started = time.perf_counter()
            with app.test_request_context():  # type: ignore[attr-defined]
                result = engine.run(db.session(), DAY, ReminderMails(app.config["SETTINGS"]))  # type: ignore[attr-defined]
            elapsed = time.perf_counter() - started
            print(
                f"full run (evaluation + step records + outbox rows; pay-links come when written): "
                f"{elapsed:.1f} s, {result.messages:,} messages for {result.invoices:,} "
                f"invoices ({result.messages / elapsed:.0f} messages/s)"
            )
        if smtp:
            send_over_smtp(app, smtp)


def send_over_smtp(app: object, count: int) -> None:
    """Render and send `count` queued reminders to a local SMTP server; messages/s."""
    import socket
    import threading

    from aiosmtpd.controller import Controller

    from portal.db import db
    from portal.domain.messaging import outbox
    from portal.domain.messaging.email import transport_for
    from portal.mails import SendTimeRenderer

    received = 0
    lock = threading.Lock()

    class Counter:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            nonlocal received
            with lock:
                received += 1
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = app.config["SETTINGS"]  # type: ignore[attr-defined]
        transport = transport_for(f"smtp://127.0.0.1:{port}")
        with app.app_context():  # type: ignore[attr-defined]
            started = time.perf_counter()
            result = outbox.send_pending(
                db.session, transport, limit=count, render=SendTimeRenderer(settings)
            )
            elapsed = time.perf_counter() - started
    finally:
        controller.stop()
    print(
        f"SMTP: {result.sent:,} reminders written and sent in {elapsed:.1f} s "
        f"({result.sent / elapsed:.0f} messages/s; server received {received:,})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--debtors", type=int, default=200_000)
    parser.add_argument("--full-run", action="store_true")
    parser.add_argument("--smtp", type=int, default=0, help="then send this many over SMTP")
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="admin URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        print(f"{args.db}: {args.invoices:,} invoices of {args.debtors:,} debtors, day {DAY}")
        started = time.perf_counter()
        if args.db == "sqlite":
            url = f"sqlite:///{instance / 'bench.db'}"
            migrate(url, instance)
            fill_sqlite(instance / "bench.db", args.debtors, args.invoices)
            print(f"filled in {time.perf_counter() - started:.0f} s")
            measure(url, instance, args.full_run, args.smtp)
            return
        with bench_database(args.database_url, f"bench_dunning_{os.getpid()}", keep=False) as url:
            migrate(url, instance)
            fill_postgres(url, args.debtors, args.invoices)
            print(f"filled in {time.perf_counter() - started:.0f} s")
            measure(url, instance, args.full_run, args.smtp)


if __name__ == "__main__":
    main()
