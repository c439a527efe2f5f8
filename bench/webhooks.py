"""Webhook throughput: 1,000 sandbox deliveries (20% duplicates) against gunicorn + PostgreSQL.

Each delivery is what Mollie sends (`id=<ref>` form post). The web process verifies and
records it and answers; the worker (Huey on Redis, as in production) fetches the payment
from the (sandbox) provider, books it under a row lock and queues a receipt. Prints
deliveries/s and p50/p99 latency as the provider sees them, how long until the worker has
booked everything, and checks that every payment is booked exactly once.
Not part of the test run.

    .venv/bin/python bench/webhooks.py [--payments 800] [--duplicates 200] [--connections 16]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portal_pages import (
    BIN,
    DEFAULT_ADMIN_URL,
    ROOT,
    SECRET,
    bench_database,
    free_port,
    gunicorn,
    insert_brand,
    migrate,
)


def fill(url: str, payments: int) -> list[str]:
    """One debtor, invoice and open payment per delivery target; the sandbox says paid."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    refs = [f"sbx_bench{n:08d}" for n in range(payments)]
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        brand = insert_brand(cur)
        for n, ref in enumerate(refs, start=1):
            cur.execute(
                "INSERT INTO debtor (id, brand_id, number, name, kind, language, phone,"
                " address_line, postcode, city, country, created_at) VALUES"
                " (%s, %s, %s, %s, 'b2c', 'nl', '', '', '', '', 'NL', now())",
                (n, brand, f"D{n:06d}", f"Debtor {n}"),
            )
            cur.execute(
                "INSERT INTO debtor_email (debtor_id, email) VALUES (%s, %s)",
                (n, f"debtor{n}@example.com"),
            )
            cur.execute(
                "INSERT INTO invoice (id, brand_id, debtor_id, number, kind, invoice_date,"
                " due_date, currency, total_cents, open_cents, status, reference, description,"
                " has_original_pdf, created_at, updated_at) VALUES (%s, %s, %s, %s, 'invoice',"
                " '2026-10-01', '2026-10-15', 'EUR', 12100, 12100, 'open', '', '', false,"
                " now(), now())",
                (n, brand, n, f"F{n:07d}"),
            )
            cur.execute(
                "INSERT INTO payment (id, public_id, brand_id, debtor_id, provider, provider_ref,"
                " method, status, amount_cents, currency, description, checkout_url, test_mode,"
                " received_cents, refunded_cents, charged_back_cents, unallocated_cents, flag,"
                " created_at, updated_at) VALUES (%s, %s, %s, %s, 'sandbox', %s, 'ideal', 'open',"
                " 12100, 'EUR', 'bench', '', true, 0, 0, 0, 0, '', now(), now())",
                (n, f"pub{n:08d}", brand, n, ref),
            )
            cur.execute("INSERT INTO payment_invoice VALUES (%s, %s)", (n, n))
            cur.execute(
                "INSERT INTO sandbox_payment (ref, amount_cents, currency, description, methods,"
                " method, status, refunded_cents, charged_back_cents, return_url, webhook_url,"
                " locale, created_at) VALUES (%s, 12100, 'EUR', 'bench', 'ideal', 'ideal',"
                " 'paid', 0, 0, '', '', 'nl_NL', now())",
                (ref,),
            )
        for table in ("debtor", "invoice", "payment"):
            cur.execute(f"SELECT setval('{table}_id_seq', %s)", (payments,))
        cur.execute("ANALYZE")
        conn.commit()
    return refs


def deliver_all(port: int, bodies: list[bytes], connections: int) -> tuple[list[float], Counter]:
    """Post every body once, spread over keep-alive connections."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    latencies: list[float] = []
    outcomes: Counter = Counter()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop()
            start = time.perf_counter()
            conn.request("POST", "/webhooks/sandbox", body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                outcomes[f"{response.status} {text}"] += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, outcomes


@contextmanager
def worker(url: str, instance: Path, env: dict[str, str], threads: int) -> Iterator[None]:
    """The Huey consumer, as `make run` starts it, on a clean queue."""
    full = {
        **os.environ,
        **env,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "PORTAL_INSTANCE_PATH": str(instance),
    }
    if env.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    process = subprocess.Popen(
        [str(BIN / "flask"), "--app", "wsgi", "worker", "--workers", str(threads)],
        cwd=ROOT,
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(10)


def wait_until_processed(url: str, deliveries: int, timeout: float = 300) -> float:
    """The moment the worker has processed every delivery."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.perf_counter() + timeout
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.perf_counter() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM webhook_delivery WHERE processed_at IS NOT NULL"
            ).fetchone()
            if row and row[0] >= deliveries:
                return time.perf_counter()
            time.sleep(0.05)
    raise RuntimeError("the worker did not process every delivery in time")


def check(url: str, payments: int) -> dict[str, int]:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        one = conn.execute(
            "SELECT count(*), count(DISTINCT payment_id), count(DISTINCT invoice_id)"
            " FROM allocation"
        ).fetchone()
        paid = conn.execute("SELECT count(*) FROM payment WHERE status = 'paid'").fetchone()
        still_open = conn.execute("SELECT coalesce(sum(open_cents), 0) FROM invoice").fetchone()
        receipts = conn.execute(
            "SELECT count(*) FROM outbox_message WHERE kind = 'receipt'"
        ).fetchone()
    assert one and paid and still_open and receipts
    return {
        "allocations": one[0],
        "payments booked": one[1],
        "invoices booked": one[2],
        "payments paid": paid[0],
        "open cents left": still_open[0],
        "receipts queued": receipts[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=800)
    parser.add_argument("--duplicates", type=int, default=200)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="admin URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--worker-threads", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, "bench_webhooks", args.keep) as url,
    ):
        instance = Path(tmp)
        migrate(url, instance)
        refs = fill(url, args.payments)
        rng = random.Random(11)
        targets = refs + [rng.choice(refs) for _ in range(args.duplicates)]
        rng.shuffle(targets)
        bodies = [f"id={ref}".encode() for ref in targets]
        port = free_port()
        env = {"REDIS_URL": args.redis_url} if args.redis_url else {}
        with (
            gunicorn(url, instance, port, args.workers, extra_env=env),
            worker(url, instance, env, args.worker_threads),
        ):
            began = time.perf_counter()
            latencies, outcomes = deliver_all(port, bodies, args.connections)
            elapsed = time.perf_counter() - began
            booked = wait_until_processed(url, len(bodies)) - began
        latencies.sort()
        figures = check(url, args.payments)

    print(
        f"deliveries: {len(bodies)} ({args.duplicates} duplicates), "
        f"{args.connections} connections, gunicorn {args.workers} workers, PostgreSQL"
    )
    print(f"throughput: {len(bodies) / elapsed:.0f} deliveries/s answered ({elapsed:.2f} s)")
    print(f"all booked by the worker after {booked:.2f} s ({len(bodies) / booked:.0f}/s)")
    print(
        f"latency: p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms"
    )
    print("answers:", dict(outcomes))
    for key, value in figures.items():
        print(f"{key}: {value}")
    exactly_once = (
        figures["allocations"] == figures["payments booked"] == args.payments
        and figures["open cents left"] == 0
        and figures["receipts queued"] == args.payments
    )
    print("every payment booked exactly once:", "yes" if exactly_once else "NO")
    if not exactly_once:
        sys.exit(1)


if __name__ == "__main__":
    main()
