"""Collection speed: the dossier of a big debtor and the queue page.

* A dossier for a debtor with 1,000 invoices (each with an original PDF from the
  accounting package, as a real import has them), 5,000 messages with their texts, 500
  payments and 6,000 history events: the time to build the ZIP and its size.
* The collection queue page (Admin > Collection) with 50,000 invoices of 10,000 debtors
  waiting: server time through the app (in process, signed in as an admin), median and
  95th percentile of 20 views, first page and a search.

SQLite in a temporary file by default; with DATABASE_URL (a PostgreSQL server URL) a
fresh database `bench_collection` on that server, dropped afterwards unless --keep.
Not part of the test run.

    .venv/bin/python bench/collection.py [--keep]
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/collection.py
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DAY = dt.date(2026, 12, 1)
ADMIN = ("bench@example.com", "a long bench password")
BENCH_SECRET = "bench-secret-key"
AGENCY_SECRET = "whsec_bench"


@contextlib.contextmanager
def database(keep: bool) -> Iterator[str]:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        from portal_pages import bench_database

        with bench_database(url, "bench_collection", keep) as fresh:
            yield fresh
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{folder}/bench.db"


def moment(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)


def fill_dossier_debtor(session, brand_id: int, pdf: bytes) -> int:
    from portal.domain.bulk import insert_rows
    from portal.models import (
        Allocation,
        AuditEvent,
        Debtor,
        DebtorEmail,
        Invoice,
        OutboxMessage,
        Payment,
    )

    debtor = Debtor(
        brand_id=brand_id,
        number="BIG-1",
        name="Groothandel Veel B.V.",
        kind="b2b",
        language="nl",
        phone="+31201234567",
        address_line="Havenweg 1",
        postcode="1011 AA",
        city="Amsterdam",
    )
    debtor.emails = [DebtorEmail(email="boekhouding@veel.example")]
    session.add(debtor)
    session.flush()
    start = DAY - dt.timedelta(days=900)
    insert_rows(
        session,
        Invoice,
        (
            {
                "brand_id": brand_id,
                "debtor_id": debtor.id,
                "number": f"BIG-{n:05d}",
                "kind": "invoice",
                "invoice_date": start + dt.timedelta(days=n // 2),
                "due_date": start + dt.timedelta(days=n // 2 + 30),
                "currency": "EUR",
                "total_cents": 10_000 + n * 37,
                "open_cents": 10_000 + n * 37,
                "status": "open",
                "reference": f"PO-{n}",
                "description": "Deliveries",
                "hold_reason": "",
                "original_pdf": pdf,
                "has_original_pdf": True,
                "created_at": moment(start),
                "updated_at": moment(start),
            }
            for n in range(1, 1001)
        ),
    )
    ids = [
        i
        for (i,) in session.execute(
            Invoice.__table__.select()
            .with_only_columns(Invoice.id)
            .where(Invoice.debtor_id == debtor.id)
            .order_by(Invoice.id)
        )
    ]
    body = (
        "Geachte heer, mevrouw,\n\nVolgens onze administratie staan de volgende facturen open.\n"
        * 12
    )[:2000]
    rows = "<tr><td>F</td><td>100,00</td></tr>" * 60
    html = f"<html><body><p>{body}</p><table>{rows}</table></body></html>"
    insert_rows(
        session,
        OutboxMessage,
        (
            {
                "channel": "email" if n % 10 else "sms",
                "kind": "reminder",
                "recipient": "boekhouding@veel.example" if n % 10 else "+31201234567",
                "subject": f"Herinnering {n}",
                "body_text": body,
                "body_html": html if n % 10 else "",
                "sender": "Brand A <a@x.example>",
                "status": "sent",
                "attempts": 1,
                "last_error": "",
                "debtor_id": debtor.id,
                "brand_id": brand_id,
                "created_at": moment(start + dt.timedelta(days=n // 6)),
                "next_attempt_at": moment(start + dt.timedelta(days=n // 6)),
                "sent_at": moment(start + dt.timedelta(days=n // 6)),
            }
            for n in range(5000)
        ),
    )
    payments = []
    for n in range(500):
        payments.append(
            Payment(
                public_id=f"benchpay{n:05d}",
                brand_id=brand_id,
                debtor_id=debtor.id,
                provider="mollie",
                provider_ref=f"tr_bench{n}",
                method="ideal",
                status="paid",
                amount_cents=2_500,
                currency="EUR",
                received_cents=2_500,
                paid_at=moment(start + dt.timedelta(days=n)),
            )
        )
    session.add_all(payments)
    session.flush()
    insert_rows(
        session,
        Allocation,
        (
            {
                "payment_id": p.id,
                "invoice_id": ids[n],
                "amount_cents": 2_500,
                "reversed_cents": 0,
                "created_at": moment(DAY),
            }
            for n, p in enumerate(payments)
        ),
    )
    session.execute(
        Invoice.__table__.update()
        .where(Invoice.id.in_(ids[:500]))
        .values(open_cents=Invoice.open_cents - 2_500)
    )
    insert_rows(
        session,
        AuditEvent,
        (
            {
                "at": moment(start + dt.timedelta(days=n // 7)),
                "actor": "system",
                "action": "reminder.sent",
                "debtor_id": debtor.id,
                "invoice_id": ids[n % 1000],
                "details": {"step": "reminder", "channel": "email"},
            }
            for n in range(6000)
        ),
    )
    return debtor.id


def fill_queue(session, brand_id: int, debtors: int, per_debtor: int) -> None:
    from sqlalchemy import select

    from portal.domain.bulk import insert_rows
    from portal.domain.collection.models import CollectionEntry
    from portal.models import Debtor, Invoice, Segment

    segment = Segment(name="Consumers", payment_term_days=14)
    session.add(segment)
    session.flush()
    insert_rows(
        session,
        Debtor,
        (
            {
                "brand_id": brand_id,
                "segment_id": segment.id,
                "number": f"Q{d:06d}",
                "name": f"Klant {d}",
                "kind": "b2c",
                "language": "nl",
                "phone": "",
                "address_line": "",
                "postcode": "",
                "city": "",
                "country": "NL",
                "do_not_contact": False,
                "created_at": moment(DAY),
            }
            for d in range(debtors)
        ),
    )
    debtor_ids = list(
        session.scalars(select(Debtor.id).where(Debtor.number.like("Q%")).order_by(Debtor.id))
    )
    insert_rows(
        session,
        Invoice,
        (
            {
                "brand_id": brand_id,
                "debtor_id": d,
                "number": f"Q{d}-{k}",
                "kind": "invoice",
                "invoice_date": DAY - dt.timedelta(days=120 + k),
                "due_date": DAY - dt.timedelta(days=100 + k),
                "currency": "EUR",
                "total_cents": 5_000 + k * 100,
                "open_cents": 5_000 + k * 100,
                "status": "open",
                "reference": "",
                "description": "",
                "hold_reason": "",
                "has_original_pdf": False,
                "created_at": moment(DAY),
                "updated_at": moment(DAY),
            }
            for d in debtor_ids
            for k in range(per_debtor)
        ),
    )
    rows = session.execute(select(Invoice.id, Invoice.debtor_id).where(Invoice.number.like("Q%")))
    insert_rows(
        session,
        CollectionEntry,
        (
            {
                "invoice_id": i,
                "debtor_id": d,
                "state": "waiting",
                "source": "schedule",
                "entered_on": DAY - dt.timedelta(days=i % 30),
                "note": "",
                "changed_by": "system",
                "changed_at": moment(DAY),
            }
            for i, d in rows
        ),
    )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--queue-debtors", type=int, default=10_000)
    parser.add_argument("--per-debtor", type=int, default=5)
    args = parser.parse_args()

    with database(args.keep) as url, tempfile.TemporaryDirectory() as instance:
        from portal import collecting, create_app
        from portal.cli import upgrade_database
        from portal.config import Settings
        from portal.db import db
        from portal.domain import admins, documents
        from portal.domain.collection.models import Agency
        from portal.models import Brand

        settings = Settings(
            instance_path=Path(instance),
            database_url=url,
            secret_key=BENCH_SECRET,
            base_url="http://portal.bench",
            huey_immediate=True,
        ).validated()
        app = create_app(settings)
        app.config.update(SANDBOX_WEBHOOKS_OFF=True)
        engine_name = url.split(":", 1)[0]
        with app.app_context():
            upgrade_database()
            session = db.session()
            brand = Brand(
                slug="a", name="Brand A", sender_email="a@x.example", iban="NL91ABNA0417164300"
            )
            session.add(brand)
            session.flush()
            with app.test_request_context():
                pdf = documents.html_to_pdf(
                    "<h1>Factuur</h1>" + "<p>Regel met omschrijving</p>" * 40
                )
            agency = Agency(
                name="Incasso Bench",
                email="d@agency.example",
                secret=AGENCY_SECRET,
                delivery="download",
            )
            session.add(agency)
            admins.create_admin(session, ADMIN[0], ADMIN[1], by="bench")
            t0 = time.perf_counter()
            debtor_id = fill_dossier_debtor(session, brand.id, pdf)
            fill_queue(session, brand.id, args.queue_debtors, args.per_debtor)
            session.commit()
            print(f"database: {engine_name}; filled in {time.perf_counter() - t0:.1f} s")

            from portal.domain.collection import queue as collection_queue
            from portal.models import Invoice

            big_invoices = [
                i
                for (i,) in session.execute(
                    Invoice.__table__.select()
                    .with_only_columns(Invoice.id)
                    .where(Invoice.debtor_id == debtor_id)
                )
            ]
            for invoice_id in big_invoices:
                collection_queue.mark(session, session.get_one(Invoice, invoice_id), "bench", DAY)
            session.commit()
            with app.test_request_context():
                t0 = time.perf_counter()
                made = collecting.hand_over(session, debtor_id, agency.id, None, "bench")
                session.commit()
                whole = time.perf_counter() - t0
                builds = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    archive = collecting.build(session, made)
                    builds.append(time.perf_counter() - t0)
            print(
                "dossier, 1,000 invoices and 5,000 messages:"
                f" build {statistics.median(builds):.2f} s (median of 3;"
                f" the hand-over with it {whole:.2f} s), ZIP {len(archive) / 1e6:.2f} MB"
                f" ({len(archive):,} bytes; PDF original {len(pdf):,} bytes each)"
            )
        client = app.test_client()
        login = client.get("/admin/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
        client.post(
            "/admin/login", data={"email": ADMIN[0], "password": ADMIN[1], "csrf_token": token}
        )
        waiting = args.queue_debtors * args.per_debtor + 1000
        for label, path in (
            ("first page", "/admin/collection"),
            ("page 40", "/admin/collection?page=40"),
            ("search", "/admin/collection?q=klant%2012"),
        ):
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200, answer.status_code
            print(
                f"queue page ({label}), {waiting:,} invoices waiting:"
                f" median {statistics.median(times):.0f} ms, p95 {percentile(times, 95):.0f} ms"
            )


if __name__ == "__main__":
    main()
