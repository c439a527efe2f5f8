"""API throughput: pay-link creations against gunicorn + PostgreSQL, and outgoing webhook
deliveries to a local receiver. Not part of the test run.

Each create is a new debtor and invoice with its own `Idempotency-Key` (the full path a
shop takes). Prints creations/s with p50/p99 latency as the shop sees them, then queues one
`payment.paid` event per link and prints how fast the worker's code posts them, signed, to
a local receiver that checks every signature.

    .venv/bin/python bench/api.py [--creates 2000] [--connections 16] [--workers 4]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portal_pages import (
    DEFAULT_ADMIN_URL,
    SECRET,
    bench_database,
    free_port,
    gunicorn,
    insert_brand,
    migrate,
)

RAW_KEY = "bp_live_bench" + "x" * 40


def fill(url: str) -> int:
    """A brand with one live API key; returns the brand id."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        brand = insert_brand(cur)
        cur.execute(
            "INSERT INTO api_key (brand_id, label, prefix, key_hash, test_mode, created_by,"
            " created_at) VALUES (%s, 'bench', %s, %s, false, 'bench', now())",
            (brand, RAW_KEY[:12], hashlib.sha256(RAW_KEY.encode()).hexdigest()),
        )
        conn.commit()
        return brand


def create_all(port: int, creates: int, connections: int) -> tuple[list[float], dict[int, int]]:
    """POST every create once, spread over keep-alive connections."""
    todo = list(range(creates))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not todo:
                    break
                n = todo.pop()
            body = json.dumps(
                {
                    "debtor": {"number": f"C{n:07d}", "name": f"Klant {n}"},
                    "invoice": {"number": f"O{n:07d}", "amount_cents": 1000 + n},
                    "return_url": "https://shop.example.com/thanks",
                }
            )
            headers = {
                "Authorization": f"Bearer {RAW_KEY}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"order-{n}",
            }
            start = time.perf_counter()
            conn.request("POST", "/api/v1/pay-links", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                statuses[response.status] = statuses.get(response.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses


class Receiver:
    """The shop's endpoint: counts deliveries whose signature checks out."""

    def __init__(self, secret: str) -> None:
        self.good = self.bad = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                parts = dict(
                    p.split("=", 1) for p in self.headers["Betaalportaal-Signature"].split(",")
                )
                mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
                ok = hmac.compare_digest(mac.hexdigest(), parts["v1"])
                with lock:
                    if ok:
                        receiver.good += 1
                    else:
                        receiver.bad += 1
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def deliver(url: str, instance: Path, brand_id: int, events: int) -> tuple[float, Receiver]:
    """Queue `events` paid events and post them with the worker's own code."""
    os.environ.update(
        {"DATABASE_URL": url, "SECRET_KEY": SECRET, "PORTAL_INSTANCE_PATH": str(instance)}
    )
    from portal import create_app
    from portal.db import db
    from portal.domain import outgoing
    from portal.models import Brand

    app = create_app()
    with app.app_context():
        session = db.session()
        brand = session.get_one(Brand, brand_id)
        endpoint, secret = outgoing.save_endpoint(
            session, brand, "http://127.0.0.1:1/x", production=False, allow_private=True
        )
        receiver = Receiver(secret or endpoint.secret)
        endpoint.url = receiver.url
        for _ in range(events):
            outgoing.test_event(session, brand)
        session.commit()
        began = time.perf_counter()
        while True:
            result = outgoing.deliver_due(session, production=False, allow_private=True)
            if result.sent + result.retried + result.failed == 0:
                break
        elapsed = time.perf_counter() - began
        receiver.server.shutdown()
        return elapsed, receiver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="admin URL")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, "bench_api", args.keep) as url,
    ):
        instance = Path(tmp)
        migrate(url, instance)
        brand_id = fill(url)
        port = free_port()
        env = {"API_PER_MINUTE": "10000000"}
        with gunicorn(url, instance, port, args.workers, extra_env=env):
            began = time.perf_counter()
            latencies, statuses = create_all(port, args.creates, args.connections)
            elapsed = time.perf_counter() - began
        latencies.sort()
        print(
            f"pay-link creates: {args.creates}, {args.connections} connections, "
            f"gunicorn {args.workers} workers, PostgreSQL"
        )
        print(f"throughput: {args.creates / elapsed:.0f} creates/s ({elapsed:.2f} s)")
        print(
            f"latency: p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms"
        )
        print("answers:", statuses)
        seconds, receiver = deliver(url, instance, brand_id, args.events)
        print(
            f"webhook deliveries: {receiver.good} signed and accepted, {receiver.bad} refused, "
            f"{receiver.good / seconds:.0f}/s (one worker, sequential posts)"
        )
        if statuses.get(201) != args.creates or receiver.good != args.events:
            sys.exit(1)


if __name__ == "__main__":
    main()
