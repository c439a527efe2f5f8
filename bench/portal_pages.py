"""Portal page speed: a logged-in debtor's invoice list against a trivial route.

10,000 debtors and 200,000 invoices on PostgreSQL, gunicorn with 2 workers, 16 concurrent
connections for 20 s per route (DESIGN.md section 9). Prints requests/s and p50/p99
latency per route, the list/trivial throughput ratio, and the time of a PDF copy (first
render and cached). Not part of the test run.

    .venv/bin/python bench/portal_pages.py [--duration 20] [--connections 16] [--keep]
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def bench_database(admin_url: str, name: str, keep: bool) -> Iterator[str]:
    """A fresh database on the admin URL's server, dropped afterwards unless --keep."""
    admin = make_url(admin_url)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert_brand(cur: psycopg.Cursor[Any]) -> int:
    """One brand ("Brand A") for a bench database; its id."""
    cur.execute(
        "INSERT INTO brand (slug, name, primary_color, accent_color, font, sender_name,"
        " sender_email, support_email, support_phone, iban, enterprise_number, vat_number,"
        " address, country, default_language, payment_methods, updated_at) VALUES"
        " ('a','Brand A','#0f766e','#f59e0b','system','A','a@x.example','s@x.example',"
        " '','NL91ABNA0417164300','','','','NL','nl','ideal,bancontact,paypal,card', now())"
        " RETURNING id"
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def migrate(url: str, instance: Path) -> None:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET}
    env["PORTAL_INSTANCE_PATH"] = str(instance)
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def fill(url: str, debtors: int, invoices: int) -> tuple[int, int]:
    """Bulk-load brands, debtors and invoices with COPY. Returns (debtor id, invoice id)."""
    rng = random.Random(7)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO brand (slug, name, primary_color, accent_color, font, sender_name,"
            " sender_email, support_email, support_phone, iban, enterprise_number, vat_number,"
            " address, country, default_language, updated_at) VALUES"
            " ('a','Brand A','#0f766e','#f59e0b','system','A','a@x.example','s@x.example',"
            " '','NL91ABNA0417164300','','','','NL','nl', now()),"
            " ('b','Brand B','#7f1d1d','#ca8a04','serif','B','b@x.example','s@x.example',"
            " '','BE68539007547034','','','','BE','nl', now()) RETURNING id"
        )
        brand_ids = [row[0] for row in cur.fetchall()]
        with cur.copy(
            "COPY debtor (id, brand_id, number, name, kind, language, phone, address_line,"
            " postcode, city, country, created_at) FROM STDIN"
        ) as copy:
            for i in range(1, debtors + 1):
                copy.write_row(
                    (
                        i,
                        brand_ids[i % 2],
                        f"D{i:06d}",
                        f"Debtor {i}",
                        "b2c",
                        "en",
                        "",
                        f"Kerkstraat {i % 200}",
                        "3511 AB",
                        "Utrecht",
                        "NL",
                        "2026-01-01",
                    )
                )
        with cur.copy("COPY debtor_email (debtor_id, email) FROM STDIN") as copy:
            for i in range(1, debtors + 1):
                copy.write_row((i, f"debtor{i}@example.com"))
        cur.execute("SELECT setval('debtor_id_seq', %s)", (debtors,))
        with cur.copy(
            "COPY invoice (brand_id, debtor_id, number, kind, invoice_date, due_date, currency,"
            " total_cents, open_cents, status, reference, description, has_original_pdf,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for n in range(invoices):
                # the benchmark debtor (id 1) gets exactly 50; the others share the rest
                debtor = 1 if n < 50 else 2 + (n - 50) % (debtors - 1)
                total = rng.choice((2450, 8995, 12500, 34900, 125000))
                paid = rng.random() < 0.4
                day = 1 + n % 28
                copy.write_row(
                    (
                        brand_ids[debtor % 2],
                        debtor,
                        f"F{n:07d}",
                        "invoice",
                        f"2026-{1 + n % 10:02d}-{day:02d}",
                        f"2026-{2 + n % 10:02d}-{day:02d}",
                        "EUR",
                        total,
                        0 if paid else total,
                        "paid" if paid else "open",
                        "",
                        "Services",
                        False,
                        "2026-01-01",
                        "2026-01-01",
                    )
                )
        cur.execute("ANALYZE")
        cur.execute("SELECT id FROM invoice WHERE debtor_id = 1 ORDER BY id LIMIT 1")
        row = cur.fetchone()
        assert row is not None
        conn.commit()
        return 1, int(row[0])


def session_cookie(debtor_id: int) -> str:
    """A signed portal session for the debtor, as the login link would create."""
    from flask import Flask

    app = Flask("bench")
    app.secret_key = SECRET
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    value = serializer.dumps(
        {
            "debtor_ids": [debtor_id],
            "debtor_id": debtor_id,
            "email": "debtor1@example.com",
            "versions": [1],  # debtor_email.session_version as a fresh address has it
            "seen": int(time.time()) + 3600,
            "_permanent": True,
        }
    )
    return f"bp_session={value}"


@contextmanager
def gunicorn(
    url: str, instance: Path, port: int, workers: int, extra_env: dict[str, str] | None = None
) -> Iterator[None]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "PORTAL_INSTANCE_PATH": str(instance),
        "APP_ENV": "development",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if get(port, "/healthz", "")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not answer /healthz")
        yield
    finally:
        process.terminate()
        process.wait(10)


def get(port: int, path: str, cookie: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


@dataclass
class Figures:
    route: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str


def load_wrk(port: int, path: str, cookie: str, connections: int, duration: int) -> Figures:
    """wrk with two threads; --latency gives the percentiles."""
    header = ["-H", f"Cookie: {cookie}"] if cookie else []
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            *header,
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(token: str) -> float:
        for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
            if token.endswith(unit):
                return float(token[: -len(unit)]) * factor
        return float(token)

    p50 = p99 = rps = 0.0
    errors = 0
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["50%"]:
            p50 = ms(parts[1])
        elif parts[:1] == ["99%"]:
            p99 = ms(parts[1])
        elif line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif "Non-2xx" in line:
            errors = int(parts[-1])
    return Figures(path, rps, p50, p99, errors, "wrk")


def load_python(port: int, path: str, cookie: str, connections: int, duration: int) -> Figures:
    """Threads with keep-alive connections; the client shares the 2 cores with the server."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + duration
    headers = {"Cookie": cookie} if cookie else {}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: list[float] = []
        bad = 0
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    bad += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            local.append(time.perf_counter() - start)
        with lock:
            latencies.extend(local)
            errors[0] += bad

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return Figures(
        path,
        len(latencies) / elapsed,
        statistics.median(latencies) * 1000,
        p99,
        errors[0],
        "python threads",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="admin URL")
    args = parser.parse_args()
    load = load_wrk if shutil.which("wrk") else load_python

    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, "portal_bench", args.keep) as url,
    ):
        instance = Path(tmp)
        migrate(url, instance)
        started = time.perf_counter()
        debtor_id, invoice_id = fill(url, args.debtors, args.invoices)
        fill_s = time.perf_counter() - started
        print(f"filled {args.debtors:,} debtors / {args.invoices:,} invoices in {fill_s:.1f} s")
        cookie = session_cookie(debtor_id)
        port = free_port()
        with gunicorn(url, instance, port, args.workers):
            status, body = get(port, "/invoices?status=all", cookie)
            assert status == 200 and b"Page 1 of 2" in body, "benchmark debtor not logged in"
            results = []
            for path, with_cookie in (
                ("/healthz", False),
                ("/invoices?status=all", True),
                ("/overview", True),
            ):
                figures = load(
                    port, path, cookie if with_cookie else "", args.connections, args.duration
                )
                results.append(figures)
                print(f"  measured {path}: {figures.rps:,.0f} req/s")
            pdf_path = f"/invoices/{invoice_id}/pdf"
            shutil.rmtree(instance / "cache", ignore_errors=True)
            t0 = time.perf_counter()
            status, pdf = get(port, pdf_path, cookie)
            first_ms = (time.perf_counter() - t0) * 1000
            assert status == 200 and pdf.startswith(b"%PDF")
            cached = []
            for _ in range(9):
                t0 = time.perf_counter()
                get(port, pdf_path, cookie)
                cached.append((time.perf_counter() - t0) * 1000)

    trivial, listing = results[0], results[1]
    out = io.StringIO()
    out.write(f"\nportal pages: gunicorn {args.workers} sync workers, PostgreSQL, ")
    out.write(f"{args.connections} connections x {args.duration} s, load by {trivial.tool}\n")
    out.write(f"{'route':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}\n")
    for f in results:
        out.write(f"{f.route:<24}{f.rps:>10,.0f}{f.p50_ms:>10.1f}{f.p99_ms:>10.1f}{f.errors:>8}\n")
    ratio = listing.rps / trivial.rps if trivial.rps else 0
    out.write(f"list / trivial throughput: {ratio:.0%} (target >= 40%); ")
    out.write(f"list p99 {listing.p99_ms:.1f} ms (target < 50 ms)\n")
    out.write(f"PDF copy: first render {first_ms:.0f} ms, cached median ")
    out.write(f"{statistics.median(cached):.1f} ms\n")
    print(out.getvalue())


if __name__ == "__main__":
    main()
