"""Insight speed: the worker's nightly recompute and an insight page view.

PostgreSQL with 1,000,000 invoices of 200,000 debtors (two brands, three segments) over
three years before the bench day. Each debtor pays its own way (a usual delay between a
week early and two months late, with noise); an invoice whose payment day has not come is
still open; a paid one has the audit event its payment wrote. A few thousand broken
promises, upheld disputes and breached plans feed the ratings.

Prints the time of:
* the first recompute, which also reads every settlement day from the history once;
* a nightly recompute the next day, after a day's payments (the steady state: under 120 s);
* page views that read what the worker prepared (server time through the app, median and
  95th percentile of 20 views each: under 200 ms), and the drill-down of an ageing figure.
Not part of the test run.

    .venv/bin/python bench/insight.py [--invoices 1000000] [--debtors 200000] [--keep]
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
from portal_pages import DEFAULT_ADMIN_URL, SECRET, bench_database, migrate

DAY = dt.date(2026, 11, 24)
YEARS = 3
TZ = "Europe/Amsterdam"
ADMIN = ("bench@example.com", "a long bench password")


def _moment(day: dt.date) -> str:
    return f"{day.isoformat()} 10:00:00+00"


def fill(url: str, debtors: int, invoices: int) -> None:
    """Brands, segments, debtors, invoices, their payment events and some requests."""
    rng = random.Random(19)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        brands = []
        for slug, country in (("a", "NL"), ("b", "BE")):
            cur.execute(
                "INSERT INTO brand (slug, name, primary_color, accent_color, font, sender_name,"
                " sender_email, support_email, support_phone, iban, enterprise_number,"
                " vat_number, address, country, default_language, payment_methods, updated_at)"
                f" VALUES ('{slug}', 'Brand {slug.upper()}', '#0f766e', '#f59e0b', 'system',"
                f" 'S', 's@x.example', 's@x.example', '', '', '', '', '', '{country}', 'nl',"
                " 'ideal', now()) RETURNING id"
            )
            brands.append(cur.fetchone()[0])  # type: ignore[index]
        segments = []
        for name, term in (("Consumers", 14), ("Business", 30), ("High risk", 7)):
            cur.execute(
                "INSERT INTO segment (name, payment_term_days, allow_partial, partial_min_cents)"
                f" VALUES ('{name}', {term}, false, 2500) RETURNING id"
            )
            segments.append((cur.fetchone()[0], term))  # type: ignore[index]
        profile = {}
        with cur.copy(
            "COPY debtor (id, brand_id, segment_id, number, name, kind, language, phone,"
            " address_line, postcode, city, country, do_not_contact, created_at) FROM STDIN"
        ) as copy:
            for d in range(1, debtors + 1):
                segment, term = segments[0 if d % 10 < 7 else (1 if d % 10 < 9 else 2)]
                profile[d] = (segment, term, rng.choice([-7, -2, 0, 3, 8, 15, 25, 45, 70]))
                copy.write_row(
                    (
                        d,
                        brands[d % 2],
                        segment,
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
                        "2023-01-01",
                    )
                )
        cur.execute("SELECT setval('debtor_id_seq', %s)", (debtors,))
        first = DAY - dt.timedelta(days=365 * YEARS)
        span = (DAY - first).days
        paid_events = []
        open_rows = []
        with cur.copy(
            "COPY invoice (id, brand_id, debtor_id, number, kind, invoice_date, due_date,"
            " currency, total_cents, open_cents, status, reference, description, hold_reason,"
            " has_original_pdf, created_at, updated_at) FROM STDIN"
        ) as copy:
            for n in range(1, invoices + 1):
                debtor = rng.randint(1, debtors)
                _segment, term, mean = profile[debtor]
                invoiced = first + dt.timedelta(days=rng.randrange(span))
                due = invoiced + dt.timedelta(days=term)
                delay = max(round(rng.gauss(mean, 6 + abs(mean) / 3)), -term)
                paid = due + dt.timedelta(days=delay)
                total = rng.choice([2450, 8995, 12100, 34900, 59900, 125000])
                settled = paid < DAY
                if settled:
                    paid_events.append((n, debtor, paid))
                else:
                    open_rows.append(n)
                copy.write_row(
                    (
                        n,
                        brands[debtor % 2],
                        debtor,
                        f"F{n:08d}",
                        "invoice",
                        invoiced,
                        due,
                        "EUR",
                        total,
                        0 if settled else total,
                        "paid" if settled else "open",
                        "",
                        "",
                        "",
                        False,
                        _moment(invoiced),
                        _moment(paid if settled else invoiced),
                    )
                )
        cur.execute("SELECT setval('invoice_id_seq', %s)", (invoices,))
        with cur.copy(
            "COPY audit_event (at, actor, action, debtor_id, invoice_id, details) FROM STDIN"
        ) as copy:
            for invoice, debtor, paid in paid_events:
                copy.write_row((_moment(paid), "system", "payment.received", debtor, invoice, "{}"))
        with cur.copy(
            "COPY debtor_request (kind, state, debtor_id, invoice_id, reason, message,"
            " promise_date, details, outcome, created_at, updated_at) FROM STDIN"
        ) as copy:
            for invoice, debtor, paid in rng.sample(paid_events, 5000):
                promised = paid - dt.timedelta(days=rng.randint(3, 20))
                copy.write_row(
                    (
                        "promise",
                        "rejected",
                        debtor,
                        invoice,
                        "",
                        "",
                        promised,
                        "{}",
                        "",
                        _moment(promised - dt.timedelta(days=7)),
                        _moment(promised),
                    )
                )
            for invoice, debtor, paid in rng.sample(paid_events, 2000):
                copy.write_row(
                    (
                        "dispute",
                        "rejected",
                        debtor,
                        invoice,
                        "quality",
                        "",
                        None,
                        "{}",
                        "uphold",
                        _moment(paid - dt.timedelta(days=20)),
                        _moment(paid),
                    )
                )
        with cur.copy(
            "COPY instalment_plan (debtor_id, status, frequency, total_cents, currency,"
            " agreement_text, accepted_ip, created_at, proposed_by, ended_at, end_reason,"
            " breach_days) FROM STDIN"
        ) as copy:
            for debtor in rng.sample(range(1, debtors + 1), 1000):
                ended = DAY - dt.timedelta(days=rng.randint(10, 600))
                copy.write_row(
                    (
                        debtor,
                        "breached",
                        "monthly",
                        50000,
                        "EUR",
                        "",
                        "",
                        _moment(ended),
                        "debtor",
                        _moment(ended),
                        "",
                        14,
                    )
                )
        cur.execute("ANALYZE")
        conn.commit()
    print(f"  {len(paid_events):,} paid (with their payment events), {len(open_rows):,} open")


def a_day_of_payments(url: str, count: int) -> None:
    """The day after: `count` open invoices are paid (as the portal or an import books)."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    day = DAY
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT id, debtor_id FROM invoice WHERE status = 'open' ORDER BY due_date LIMIT %s",
            (count,),
        )
        rows = cur.fetchall()
        ids = [r[0] for r in rows]
        cur.execute(
            "UPDATE invoice SET status = 'paid', open_cents = 0, updated_at = now()"
            " WHERE id = ANY(%s)",
            (ids,),
        )
        with cur.copy(
            "COPY audit_event (at, actor, action, debtor_id, invoice_id, details) FROM STDIN"
        ) as copy:
            for invoice, debtor in rows:
                copy.write_row((_moment(day), "system", "payment.received", debtor, invoice, "{}"))
        conn.commit()


def measure(url: str, instance: Path) -> None:
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET, PORTAL_INSTANCE_PATH=str(instance))
    from portal import create_app
    from portal.db import db
    from portal.domain import admins
    from portal.domain.insight import refresh
    from portal.models import InsightFigures

    app = create_app()
    with app.app_context():
        started = time.perf_counter()
        result = refresh.run(db.session(), DAY, TZ)
        print(
            f"first recompute: {time.perf_counter() - started:.1f} s ({result.settled:,}"
            f" settlement days read from the history, {result.rated:,} debtors rated,"
            f" {result.predicted:,} open invoices predicted)"
        )
    a_day_of_payments(url, 1500)
    with app.app_context():
        started = time.perf_counter()
        result = refresh.run(db.session(), DAY + dt.timedelta(days=1), TZ)
        nightly = time.perf_counter() - started
        print(
            f"nightly recompute: {nightly:.1f} s ({result.settled:,} new settlements,"
            f" {result.invoices:,} invoices, {result.rated:,} debtors rated,"
            f" {result.predicted:,} predicted)"
        )
        doc = db.session.get(InsightFigures, "backtest").data  # type: ignore[union-attr]
        print(
            f"  backtest: {doc['paid']:,} invoices paid in the window,"
            f" {doc['within_share']:.0%} within 7 days of the predicted day"
            f" (due date alone: {doc['within_due_share']:.0%})"
        )
        admins.create_admin(db.session(), ADMIN[0], ADMIN[1], role="admin", by="bench")
        db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    client.post("/admin/login", data={"email": ADMIN[0], "password": ADMIN[1]})
    for path in (
        "/admin/insight",
        "/admin/insight/forecast",
        "/admin/insight/debtors",
        "/admin/insight/invoices?group=all&bucket=2",
        "/admin/debtors/4242",
    ):
        client.get(path)  # warm
        times = []
        for _ in range(20):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        times.sort()
        print(
            f"  GET {path}: median {statistics.median(times):.0f} ms,"
            f" p95 {times[int(len(times) * 0.95) - 1]:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--debtors", type=int, default=200_000)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="admin URL")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, "bench_insight", keep=args.keep) as url,
    ):
        instance = Path(tmp)
        print(f"postgresql: {args.invoices:,} invoices of {args.debtors:,} debtors, day {DAY}")
        started = time.perf_counter()
        migrate(url, instance)
        fill(url, args.debtors, args.invoices)
        print(f"filled in {time.perf_counter() - started:.0f} s")
        measure(url, instance)


if __name__ == "__main__":
    main()
