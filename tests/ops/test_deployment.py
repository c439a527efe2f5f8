"""The production start script, two of everything: two gunicorn web servers (two worker
processes each) and two workers, started with scripts/start-production.sh on one database
and one queue (PostgreSQL and Redis in the PostgreSQL run; a SQLite file and the SQLite
queue in the SQLite run), with APP_ENV=production.

- A debtor signs in: the login form on one web server, the mail written by a worker and
  delivered to the SMTP server, the link opened on the other web server.
- Both workers start within the minute of the morning run (MORNING_RUN_UTC): the run
  happens once, and each due reminder is sent once.
- A webhook storm (every payment's webhook six times, half to each web server, all at
  once) books each payment once and mails one receipt for it.
- /metrics of one gunicorn adds up the requests of both its worker processes.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.db import make_engine
from portal.models import (
    Allocation,
    Brand,
    Debtor,
    DebtorEmail,
    Invoice,
    InvoiceReminder,
    JobRun,
    OutboxMessage,
    Payment,
    PaymentInvoice,
    WebhookDelivery,
)
from tests.conftest import PG_URL, Inbox, csrf_from, fresh_postgres_database
from tests.ops.deployment import (
    HOST,
    REDIS_URL,
    Browser,
    Deployment,
    Web,
    base_env,
    forget_queue,
)
from tests.payments.stubs import MollieStub

pytestmark = pytest.mark.xdist_group("deployment")  # one deployment for the module

REMINDED = 6  # debtors with an overdue invoice: the morning run reminds each once
PAYING = 10  # debtors whose payment the webhook storm reports
DELIVERIES = 6  # webhooks per payment, half to each web server


@dataclass
class Running:
    deployment: Deployment
    web_a: Web
    web_b: Web
    engine: object
    domain: str  # every address of this deployment is @domain
    refs: list[str]


def _business_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/Amsterdam")).date()


def _seed(session: Session, domain: str, mollie: MollieStub) -> list[str]:
    """One brand; a debtor who signs in; debtors with an overdue invoice; debtors with an
    open Mollie payment that the stand-in then reports paid."""
    today = _business_today()
    brand = Brand(
        slug="zon",
        name="Zonnestroom",
        sender_name="Zonnestroom",
        sender_email=f"billing@{domain}",
        support_email=f"help@{domain}",
        iban="NL91ABNA0417164300",
        enterprise_number="12345678",
        address="Kerkstraat 1, 3511 AB Utrecht",
    )
    session.add(brand)
    session.flush()

    def debtor(number: str, email: str, due: dt.date, cents: int = 12100) -> Invoice:
        person = Debtor(brand_id=brand.id, number=number, name=f"Customer {number}", language="en")
        person.emails = [DebtorEmail(email=email)]
        session.add(person)
        session.flush()
        invoice = Invoice(
            brand_id=brand.id,
            debtor_id=person.id,
            number=f"INV-{number}",
            invoice_date=due - dt.timedelta(days=14),
            due_date=due,
            total_cents=cents,
            open_cents=cents,
            description="Solar panels",
        )
        session.add(invoice)
        session.flush()
        return invoice

    debtor("SIGN", f"signer@{domain}", today + dt.timedelta(days=30))
    for n in range(REMINDED):
        debtor(f"R{n}", f"reminded{n}@{domain}", today - dt.timedelta(days=20))
    refs = []
    for n in range(PAYING):
        invoice = debtor(f"P{n}", f"paying{n}@{domain}", today + dt.timedelta(days=20))
        _status, created = mollie._create(
            {
                "amount": {"currency": "EUR", "value": "121.00"},
                "description": f"Invoice {invoice.number}",
                "redirectUrl": f"https://{HOST}/pay/return/p{n}",
                "method": "ideal",
            }
        )
        payment = Payment(
            public_id=uuid.uuid4().hex,
            brand_id=brand.id,
            debtor_id=invoice.debtor_id,
            provider="mollie",
            provider_ref=created["id"],
            method="ideal",
            status="open",
            amount_cents=invoice.open_cents,
            description=created["description"],
        )
        session.add(payment)
        session.flush()
        session.add(PaymentInvoice(payment_id=payment.id, invoice_id=invoice.id))
        refs.append(created["id"])
    session.commit()
    for ref in refs:
        mollie.pay(ref)
    return refs


@pytest.fixture(scope="module")
def running(tmp_path_factory, smtp_server) -> Iterator[Running]:
    folder: Path = tmp_path_factory.mktemp("deployment")
    (folder / "instance").mkdir()
    with ExitStack() as stack:
        if PG_URL:
            url = stack.enter_context(fresh_postgres_database("portal_deploy"))
        else:
            url = f"sqlite:///{folder / 'instance' / 'portal.db'}"
        mollie = MollieStub()
        stack.callback(mollie.stop)
        env = base_env(folder, url, smtp_server[1], mollie.url)
        if PG_URL:
            env["REDIS_URL"] = REDIS_URL
            stack.callback(forget_queue, env["QUEUE_NAME"])
        deployment = Deployment(folder, env)
        stack.callback(deployment.stop)
        # both web servers at once: each migrates first, under the lock, so once
        web_a, web_b = deployment.web(), deployment.web()
        deployment.wait_until_up(web_a)
        deployment.wait_until_up(web_b)

        engine = make_engine(url)
        stack.callback(engine.dispose)
        domain = f"deploy-{uuid.uuid4().hex[:8]}.example.com"
        with Session(engine) as session:
            refs = _seed(session, domain, mollie)

        # both workers start well inside one minute, and that minute is the morning run's:
        # each worker's scheduler looks at its periodic tasks as it starts
        while dt.datetime.now(dt.UTC).second >= 30:
            time.sleep(0.5)
        morning = dt.datetime.now(dt.UTC).strftime("%H:%M")
        for _ in range(2):
            deployment.start("worker", MORNING_RUN_UTC=morning, WORKER_THREADS="2")
        yield Running(deployment, web_a, web_b, engine, domain, refs)


def _wait(condition, what: str, running: Running, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what} within {timeout}s\n{running.deployment.tail()}")


def test_the_production_script_serves_a_signed_in_page(running: Running, smtp_server):
    inbox: Inbox = smtp_server[0]
    email = f"signer@{running.domain}"
    browser = Browser(running.web_a)
    form = browser.get("/login")
    assert form.status_code == 200
    sent = browser.post("/login", data={"email": email, "csrf_token": csrf_from(form.text)})
    assert sent.status_code == 303, sent.text[:500]

    mail = inbox.wait_for(email, timeout=60)  # written and sent by a worker
    link = next(
        word for word in mail.get_body(("plain",)).get_content().split() if "/login/" in word
    )
    assert link.startswith(f"https://{HOST}/login/")
    browser.web = running.web_b  # the link opens on the other web server
    button = browser.get(link.removeprefix(f"https://{HOST}"))
    assert button.status_code == 200
    signed_in = browser.follow(
        browser.post(
            link.removeprefix(f"https://{HOST}"), data={"csrf_token": csrf_from(button.text)}
        )
    )
    assert signed_in.status_code == 200
    assert "INV-SIGN" in signed_in.text and "Customer SIGN" in signed_in.text
    assert signed_in.headers["X-Request-ID"]

    for web in (running.web_a, running.web_b):
        ready = requests.get(web.url + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text


def _count(running: Running, stmt) -> int:
    with Session(running.engine) as session:  # type: ignore[arg-type]
        return int(session.scalar(stmt) or 0)


def test_two_of_everything_run_the_morning_once_and_book_each_payment_once(
    running: Running, smtp_server
):
    inbox: Inbox = smtp_server[0]

    def deliver(job: tuple[str, Web]) -> int:
        ref, web = job
        return requests.post(
            web.url + "/webhooks/mollie",
            data={"id": ref},
            headers={"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"},
            timeout=30,
        ).status_code

    jobs = [
        (ref, running.web_a if n % 2 else running.web_b)
        for ref in running.refs
        for n in range(DELIVERIES)
    ]
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(deliver, jobs))
    assert answers == [200] * len(jobs)

    paid = select(func.count()).select_from(Payment).where(Payment.status == "paid")
    queued = select(func.count()).where(WebhookDelivery.outcome == "queued")
    unsent = select(func.count()).where(OutboxMessage.status.in_(("pending", "sending")))
    run_done = select(func.count()).where(JobRun.kind == "dunning", JobRun.status == "done")
    _wait(lambda: _count(running, paid) == PAYING, "every payment paid", running)
    _wait(lambda: _count(running, queued) == 0, "every webhook applied", running)
    _wait(lambda: _count(running, run_done) >= 1, "the morning run done", running)
    _wait(lambda: _count(running, unsent) == 0, "the outbox sent", running)

    # the morning run ran once although both workers' schedulers found it due
    assert _count(running, select(func.count()).select_from(JobRun)) == 1
    assert _count(running, select(func.count()).select_from(InvoiceReminder)) == REMINDED
    reminded = {f"reminded{n}@{running.domain}" for n in range(REMINDED)}
    _wait(lambda: all(inbox.to(a) for a in reminded), "a reminder to each", running, 30)
    assert {a: len(inbox.to(a)) for a in reminded} == dict.fromkeys(reminded, 1)

    # each payment booked once: one allocation each, invoices paid in full, one receipt
    with Session(running.engine) as session:  # type: ignore[arg-type]
        allocations = Counter(session.scalars(select(Allocation.payment_id)))
        payments = session.scalars(select(Payment)).all()
        open_left = session.scalar(
            select(func.sum(Invoice.open_cents)).where(Invoice.number.like("INV-P%"))
        )
        outcomes = Counter(session.scalars(select(WebhookDelivery.outcome)))
    assert sorted(allocations.values()) == [1] * PAYING
    assert {p.id for p in payments} == set(allocations)
    assert open_left == 0
    assert outcomes == {"applied": PAYING, "unchanged": PAYING * (DELIVERIES - 1)}
    payers = {f"paying{n}@{running.domain}" for n in range(PAYING)}
    _wait(lambda: all(inbox.to(a) for a in payers), "a receipt to each", running, 30)
    assert {a: len(inbox.to(a)) for a in payers} == dict.fromkeys(payers, 1)

    # one gunicorn's /metrics adds up the requests of both its worker processes
    scraped = requests.get(running.web_a.url + "/metrics", headers={"Host": HOST}, timeout=10)
    webhooks_to_a = 0.0
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            if (
                sample.name == "betaalportaal_http_requests_total"
                and sample.labels["endpoint"] == "webhooks.receive"
            ):
                webhooks_to_a += sample.value
    assert webhooks_to_a == len(jobs) / 2
