"""Login answer time for a known and an unknown address.

The login form answers the same for both; this prints how long the answer takes for each
(median and p90 of N requests, in-process on SQLite, rate limits off), so a difference
that would tell who is a customer shows up as a number. The work for a known address (the
token, the mail) runs in the worker's task, which is timed separately.
Not part of the test run.

    .venv/bin/python bench/login_timing.py [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="login-bench-"))
    os.environ["PORTAL_INSTANCE_PATH"] = str(folder)  # the queue file lives here
    os.environ.pop("REDIS_URL", None)

    from portal import create_app, tasks
    from portal.cli import upgrade_database
    from portal.config import Settings
    from portal.db import db
    from portal.models import Brand, Debtor, DebtorEmail

    settings = Settings(
        instance_path=folder,
        database_url=f"sqlite:///{folder / 'portal.db'}",
        secret_key="bench",  # noqa: S106 (a throwaway database)
        ratelimit_enabled=False,
    ).validated()
    app = create_app(settings)
    with app.app_context():
        upgrade_database()
        brand = Brand(slug="b", name="Bench")
        db.session.add(brand)
        db.session.flush()
        debtor = Debtor(brand_id=brand.id, number="1", name="Anna", kind="b2c", language="en")
        db.session.add(debtor)
        db.session.flush()
        db.session.add(DebtorEmail(debtor_id=debtor.id, email="anna@example.com"))
        db.session.commit()

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match
    token = match.group(1)

    def answer_ms(email: str) -> float:
        start = time.perf_counter()
        response = client.post("/login", data={"email": email, "csrf_token": token})
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 303, response.status_code
        return elapsed

    known: list[float] = []
    unknown: list[float] = []
    for _ in range(args.requests):  # interleaved, so drift hits both alike
        known.append(answer_ms("anna@example.com"))
        unknown.append(answer_ms("nobody@example.com"))
    for label, times in (("known address", known), ("unknown address", unknown)):
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{label:16} median {statistics.median(times):6.2f} ms   p90 {p90:6.2f} ms")

    with app.app_context():
        start = time.perf_counter()
        tasks.send_login_link_now("anna@example.com", "127.0.0.1")
        task_ms = (time.perf_counter() - start) * 1000
    print(f"worker task for a known address (token, mail written and kept local): {task_ms:.1f} ms")


if __name__ == "__main__":
    main()
