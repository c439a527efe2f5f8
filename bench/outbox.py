"""Outbox speed and safety against a local SMTP server (aiosmtpd) on PostgreSQL.

1. Throughput: 5,000 written messages (receipts, say) sent by one round of the outbox
   worker's code with OUTBOX_PER_MINUTE=0 (no limit): messages per second.
2. The morning: a dunning run on debtors and invoices laid out as in bench/dunning.py,
   sized so that about 2,810 reminders are due, then the same send as the worker does
   after the run (`tasks.run_dunning_now`); each reminder is written (rendered, with its
   pay-link) when it is sent. Prints the time from the start of the run until the last
   mail reached the server, and what OUTBOX_PER_MINUTE=600 (the default) makes of it.
3. With --kill: `flask outbox send` in a process of its own, killed (SIGKILL) halfway
   through 2,000 messages; how many are left 'sending' (at most one may be), then a
   second round sends the rest, and the server counts duplicates by Message-ID. Then the
   same with the sender's database connections cut halfway (an outage, as PostgreSQL
   sees it: pg_terminate_backend).

Every part checks that the server got each message exactly once. Not part of the tests.

    .venv/bin/python bench/outbox.py [--messages 5000] [--debtors 28100] [--kill]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dunning import DAY, fill_postgres
from portal_pages import BIN, DEFAULT_ADMIN_URL, ROOT, SECRET, bench_database, free_port, migrate


class Server:
    """A local SMTP server in a process of its own (in this process it would compete with
    the sender for the interpreter), writing one line per mail: arrival time, Message-ID."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.log = folder / "smtp.log"
        self.log.touch()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-smtp", str(self.port), str(self.log)]
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("the SMTP server did not start")

    def _lines(self) -> list[tuple[float, str]]:
        rows = []
        for line in self.log.read_text().splitlines():
            at, _, message_id = line.partition(" ")
            rows.append((float(at), message_id))
        return rows

    @property
    def received(self) -> int:
        return len(self._lines())

    @property
    def duplicates(self) -> int:
        counts = Counter(message_id for _at, message_id in self._lines())
        return sum(n - 1 for n in counts.values() if n > 1)

    @property
    def last_at(self) -> float:
        """The wall-clock time the last mail arrived (0: none)."""
        return max((at for at, _id in self._lines()), default=0.0)

    def reset(self) -> None:
        self.log.write_text("")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def serve_smtp(port: int, log: Path) -> None:
    """The server process: accept everything, log each mail's arrival and Message-ID."""
    out = log.open("a", buffering=1)

    class Logging:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            headers = BytesHeaderParser().parsebytes(envelope.content)
            out.write(f"{time.time():.6f} {headers['Message-ID']}\n")
            return "250 OK"

    controller = Controller(Logging(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM})
    controller.stop()


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def queue_written(url: str, count: int, prefix: str) -> None:
    """`count` pending messages with their text already written (COPY)."""
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(conninfo(url)) as conn, conn.cursor() as cur:
        columns = (
            "channel, kind, recipient, subject, body_text, body_html, sender, status,"
            " attempts, last_error, created_at, next_attempt_at"
        )
        with cur.copy(f"COPY outbox_message ({columns}) FROM STDIN") as copy:
            for n in range(count):
                copy.write_row(
                    (
                        "email",
                        "receipt",
                        f"{prefix}{n}@example.com",
                        f"Receipt {n}",
                        "Thank you, we received your payment.\n" * 20,
                        "<p>Thank you, we received your payment.</p>" * 20,
                        "Brand A <billing@brand-a.example>",
                        "pending",
                        0,
                        "",
                        now,
                        now,
                    )
                )
        conn.commit()


def statuses(url: str) -> dict[str, int]:
    with psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute("SELECT status, count(*) FROM outbox_message GROUP BY status")
        return {str(status): int(n) for status, n in rows}


def empty_outbox(url: str) -> None:
    with psycopg.connect(conninfo(url)) as conn:
        conn.execute("DELETE FROM outbox_message")
        conn.commit()


def throughput(app: Any, url: str, smtp_url: str, server: Server, count: int) -> None:
    from portal.db import db
    from portal.domain.messaging import outbox
    from portal.domain.messaging.email import transport_for

    queue_written(url, count, "receipt")
    with app.app_context():
        started = time.perf_counter()
        result = outbox.send_pending(db.session, transport_for(smtp_url), per_minute=0)
        elapsed = time.perf_counter() - started
    print(
        f"1. throughput: {result.sent:,} messages in one round in {elapsed:.1f} s = "
        f"{result.sent / elapsed:.0f} messages/s (limit off); server received "
        f"{server.received:,}, duplicates {server.duplicates}; left {statuses(url)}"
    )


def morning(app: Any, url: str, server: Server) -> None:
    from portal import tasks

    started = time.time()
    result = tasks.run_dunning_now(DAY)
    mails = server.received
    last = server.last_at - started if server.last_at else 0.0
    with psycopg.connect(conninfo(url)) as conn:
        row = conn.execute("SELECT finished_at - started_at FROM job_run").fetchone()
    queued = row[0].total_seconds() if row else 0.0
    print(
        f"2. the morning: the run queued {result.messages:,} messages for "
        f"{result.invoices:,} invoices in {queued:.1f} s; the last of {mails:,} mails, each "
        f"written (rendered, with its pay-link) as it was sent, reached the server "
        f"{last:.1f} s after the run started ({mails / max(last - queued, 0.001):.0f} "
        f"written and sent per second; duplicates {server.duplicates}); outbox now "
        f"{statuses(url)}"
    )
    minutes = -(-mails // 600)
    print(
        f"   with OUTBOX_PER_MINUTE=600 (the default) the worker sends 600 a minute: the "
        f"last of {mails:,} leaves in round {minutes}, about {minutes - 1} minutes after "
        f"the first"
    )


def killed_worker(url: str, smtp_url: str, instance: Path, server: Server) -> None:
    from portal.db import db
    from portal.domain.messaging import outbox
    from portal.domain.messaging.email import transport_for
    from portal.models import utcnow

    empty_outbox(url)
    server.reset()
    queue_written(url, 2000, "killed")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "PORTAL_INSTANCE_PATH": str(instance),
        "SMTP_URL": smtp_url,
        "OUTBOX_PER_MINUTE": "0",
    }
    worker = subprocess.Popen(
        [str(BIN / "flask"), "--app", "wsgi", "outbox", "send"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while server.received < 1000 and worker.poll() is None:
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    at_kill = statuses(url)
    arrived = server.received
    from portal import create_app

    app = create_app()
    with app.app_context():
        outbox.send_pending(db.session, transport_for(smtp_url), per_minute=0)
        after_lease = utcnow() + outbox.LEASE + dt.timedelta(seconds=1)
        outbox.send_pending(db.session, transport_for(smtp_url), now=lambda: after_lease)
    print(
        f"3. kill -9 of `flask outbox send` after {arrived:,} of 2,000 had arrived: "
        f"{at_kill.get('sending', 0)} left 'sending' ({at_kill}); after a second round and "
        f"the lease: {statuses(url)}; server received {server.received:,}, duplicates "
        f"{server.duplicates}"
    )


def database_cut(app: Any, url: str, smtp_url: str, server: Server) -> None:
    """The worker's database connections are cut (pg_terminate_backend) halfway through a
    round, as in an outage; then the database is back and the next round runs."""
    import threading

    from portal.db import db
    from portal.domain.messaging import outbox
    from portal.domain.messaging.email import transport_for
    from portal.models import utcnow

    empty_outbox(url)
    server.reset()
    queue_written(url, 2000, "outage")
    errors: list[BaseException] = []

    def round_() -> None:
        with app.app_context():
            try:
                outbox.send_pending(db.session, transport_for(smtp_url), per_minute=0)
            except BaseException as exc:  # the connection is gone: the round ends
                errors.append(exc)
            finally:
                db.session.remove()

    worker = threading.Thread(target=round_)
    worker.start()
    while server.received < 1000 and worker.is_alive():
        time.sleep(0.01)
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    worker.join()
    at_cut = statuses(url)
    arrived = server.received
    with app.app_context():
        outbox.send_pending(db.session, transport_for(smtp_url), per_minute=0)
        after_lease = utcnow() + outbox.LEASE + dt.timedelta(seconds=1)
        outbox.send_pending(db.session, transport_for(smtp_url), now=lambda: after_lease)
        db.session.remove()
    print(
        f"4. database connections cut after {arrived:,} of 2,000 had arrived "
        f"({type(errors[0]).__name__ if errors else 'no error'}): {at_cut.get('sending', 0)} "
        f"left 'sending' ({at_cut}); after the next round and the lease: {statuses(url)}; "
        f"server received {server.received:,}, duplicates {server.duplicates}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--debtors", type=int, default=44_700, help="one invoice each")
    parser.add_argument("--kill", action="store_true", help="also kill a worker halfway")
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="admin URL")
    parser.add_argument("--serve-smtp", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_smtp:
        serve_smtp(int(args.serve_smtp[0]), Path(args.serve_smtp[1]))
        return
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, "bench_outbox", keep=False) as url,
    ):
        instance = Path(tmp)
        server = Server(instance)
        smtp_url = f"smtp://127.0.0.1:{server.port}"
        try:
            migrate(url, instance)
            os.environ.update(
                DATABASE_URL=url,
                SECRET_KEY=SECRET,
                PORTAL_INSTANCE_PATH=str(instance),
                SMTP_URL=smtp_url,
                OUTBOX_PER_MINUTE="0",
                BASE_URL="https://portal.example",
            )
            from portal import create_app

            app = create_app()
            throughput(app, url, smtp_url, server, args.messages)
            empty_outbox(url)
            server.reset()
            fill_postgres(url, args.debtors, args.debtors)
            morning(app, url, server)
            if args.kill:
                killed_worker(url, smtp_url, instance, server)
                database_cut(app, url, smtp_url, server)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
