"""The dossier of a debtor whose history has every kind of event, checked item by item:
reminders by mail, SMS and letter, the 14-day letter with its delivery and deadline, costs
and interest with how they were computed, a payment, a credit note, an invoice PDF
original, a question answered, a broken promise, a breached plan, contact data confirmed,
a bouncing address, and the timeline."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import time_machine
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from portal import collecting
from portal.db import db
from portal.domain import audit
from portal.domain.collection import queue
from portal.domain.messaging import sms
from portal.domain.payments import service
from portal.domain.payments.providers.base import Status
from portal.mails import SendTimeRenderer
from portal.models import (
    DebtorEmail,
    DebtorRequest,
    Instalment,
    InstalmentPlan,
    Invoice,
    OutboxMessage,
    ReminderSchedule,
    ReminderStep,
    RequestEvent,
)
from tests.collection.helpers import create_agency
from tests.dunning.test_legal_scenarios import at_ten, print_batch, run, send
from tests.factories import create_brand, create_debtor, create_invoice, create_segment
from tests.payments.helpers import provider_says, sandbox_provider, started

DUE = dt.date(2026, 10, 15)  # a Thursday
ORIGINAL = b"%PDF-1.4 the accounting package's own invoice\n%%EOF"
STEPS = [
    (-3, "nudge", "none", "email"),
    (7, "reminder", "none", "email,sms"),
    (14, "reminder", "none", "email"),
    (21, "notice", "none", "letter"),
    (28, "fourteen_day", "wik", "email"),
    (45, "collection", "none", "email"),
]


def schedule_segment():
    schedule = ReminderSchedule(name="Dossier test", min_gap_days=7)
    schedule.steps = [
        ReminderStep(position=n, offset_days=o, kind=k, fee_rule=f, channels=c)
        for n, (o, k, f, c) in enumerate(STEPS, start=1)
    ]
    db.session.add(schedule)
    db.session.commit()
    return create_segment(schedule_id=schedule.id)


def day(offset):
    return DUE + dt.timedelta(days=offset)


def send_all(app, offset):
    smtp = app.config["SETTINGS"].smtp_url
    send(app, smtp, day(offset))
    with time_machine.travel(at_ten(day(offset)), tick=False), app.test_request_context():
        settings = app.config["SETTINGS"]
        sms.send_pending(db.session, sms.provider_for(settings), render=SendTimeRenderer(settings))
        db.session.commit()


def history(app):
    """A debtor who went through everything, handed over on day 46."""
    segment = schedule_segment()
    debtor = create_debtor(
        create_brand(default_language="en"),  # the summary is in the brand's language
        segment_id=segment.id,
        name="Anna de Vries",
        phone="+31612345678",
        language="en",
        emails=["anna@example.com"],
    )
    big = create_invoice(
        debtor,
        number="F-1001",
        due_date=DUE,
        invoice_date=DUE - dt.timedelta(days=14),
        total_cents=300_000,
    )
    small = create_invoice(
        debtor,
        number="F-1002",
        due_date=DUE,
        invoice_date=DUE - dt.timedelta(days=14),
        total_cents=5_000,
    )
    small.original_pdf, small.has_original_pdf = ORIGINAL, True
    db.session.add(
        DebtorEmail(
            debtor_id=debtor.id,
            email="old@example.com",
            bouncing_since=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
            bounce_reason="550 no such user",
        )
    )
    debtor.contact_confirmed_at = dt.datetime(2026, 9, 20, 12, 0, tzinfo=dt.UTC)
    db.session.commit()

    for offset in (-3, 7, 14, 21, 28):
        run(app, day(offset))
        if offset == 21:
            print_batch(app, day(22))
        send_all(app, offset)
    credit = Invoice(
        brand_id=debtor.brand_id,
        debtor_id=debtor.id,
        number="CR-77",
        kind="credit_note",
        invoice_date=day(30),
        due_date=day(30),
        total_cents=-1_000,
        open_cents=0,
        status="paid",
        reference="F-1002",
    )
    db.session.add(credit)
    question = DebtorRequest(kind="question", debtor_id=debtor.id, message="Why the costs?")
    question.events = [
        RequestEvent(actor=f"debtor:{debtor.id}", action="created", message="Why the costs?"),
        RequestEvent(
            actor="admin:1", action="reply", message="The law allows them after the letter."
        ),
    ]
    promise = DebtorRequest(
        kind="promise",
        debtor_id=debtor.id,
        invoice_id=big.id,
        promise_date=day(35),
        message="I pay on the 35th",
    )
    plan = InstalmentPlan(
        debtor_id=debtor.id,
        status="breached",
        frequency="monthly",
        total_cents=300_000,
        agreement_text="Three instalments of EUR 1,000.00",
        accepted_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        ended_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        end_reason="instalment 1 not paid",
    )
    plan.instalments = [
        Instalment(seq=n, due_date=day(20 + 30 * n), cents=100_000) for n in (1, 2, 3)
    ]
    db.session.add_all([question, promise, plan])
    audit.record(db.session(), "system", "plan.breached", debtor_id=debtor.id, plan=1)
    db.session.commit()
    payment = started(app, debtor, [small])
    provider_says(payment, Status.PAID)
    service.sync(db.session(), sandbox_provider(app), payment.id, None)
    db.session.commit()
    for offset in (44, 45):
        run(app, day(offset))
    queue.enqueue_from_schedule(db.session(), day(45))
    db.session.commit()
    agency = create_agency(name="Incasso Oost")
    with time_machine.travel(at_ten(day(46)), tick=False), app.test_request_context():
        made = collecting.hand_over(db.session(), debtor.id, agency.id, None, "admin:1")
        db.session.commit()
        handover_id, archive = made.id, made.dossier
    return debtor, big, small, payment, archive, handover_id


def test_a_dossier_holds_every_kind_of_event(app):
    debtor, _big, _small, payment, archive, _handover_id = history(app)
    zf = zipfile.ZipFile(io.BytesIO(archive))
    names = set(zf.namelist())
    doc = json.loads(zf.read("dossier.json"))
    assert doc["schema"] == "betaalportaal.dossier/1"

    # who: contact data with when the debtor confirmed it, and the bouncing address
    assert doc["debtor"]["name"] == "Anna de Vries"
    assert doc["debtor"]["phone"] == "+31612345678"
    assert doc["debtor"]["contact_confirmed_at"].startswith("2026-09-20")
    bouncing = {e["email"]: e for e in doc["debtor"]["emails"]}["old@example.com"]
    assert bouncing["bounce_reason"] == "550 no such user"

    # what and how much: the invoices, the credit note, costs, and what was handed over
    numbers = {i["number"]: i for i in doc["invoices"]}
    assert numbers["F-1001"]["handed_over"] and numbers["F-1001"]["open_cents"] == 300_000
    assert numbers["F-1002"]["open_cents"] == 0 and not numbers["F-1002"]["handed_over"]
    assert numbers["CR-77"]["total_cents"] == -1_000
    costs = [i for i in doc["invoices"] if i["kind"] == "costs"]
    assert [c["total_cents"] for c in costs] == [42_500] and costs[0]["handed_over"]
    assert doc["handover"]["principal_cents"] == 300_000
    assert doc["handover"]["costs_cents"] == 42_500

    # the invoice PDFs: the original byte for byte, and the portal's copy of the other
    assert zf.read("invoices/F-1002.pdf") == ORIGINAL
    assert zf.read("invoices/F-1001.pdf").startswith(b"%PDF")

    # every message with its date, channel, delivery status and exact text
    sent = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.debtor_id == debtor.id).order_by(OutboxMessage.id)
    ).all()
    listed = {m["id"]: m for m in doc["messages"]}
    assert set(listed) >= {m.id for m in sent}
    assert {m.channel for m in sent} == {"email", "sms", "letter"}
    for message in sent:
        item = listed[message.id]
        assert (item["channel"], item["status"], item["text"]) == (
            message.channel,
            message.status,
            message.body_text,
        )
        assert item["created_at"]
        if message.body_text:
            assert (
                zf.read(f"messages/{message.id}-{message.kind}.txt").decode() == message.body_text
            )
    letter = next(m for m in doc["messages"] if m["channel"] == "letter")
    assert letter["printed_on"] == day(22).isoformat()

    # the proof that the 14-day letter was delivered, and the deadline it stated
    (claim,) = doc["claims"]
    assert claim["step"] == "fourteen_day" and claim["invoices"] == ["F-1001", "F-1002"]
    (proof,) = claim["delivery"]
    assert proof["channel"] == "email" and proof["status"] == "sent" and proof["delivered"]
    assert proof["sent_at"].startswith(day(28).isoformat())
    assert proof["deadline"] == claim["deadline"] and claim["deadline_passed"]
    # costs and interest with how they were computed
    assert claim["costs"]["cents"] == 42_500 and claim["costs"]["over"] == ["F-1001"]
    assert "WIK" in claim["costs"]["how"] and "3000.00 gives 425.00" in claim["costs"]["how"]
    assert "statutory interest (consumer)" in claim["interest"]["how"]
    assert claim["interest"]["rates"]

    # the payment and where it went
    (paid,) = [p for p in doc["payments"] if p["status"] == "paid"]
    assert paid["id"] == payment.public_id
    assert paid["allocations"] == [
        {"invoice": "F-1002", "amount_cents": 5_000, "reversed_cents": 0}
    ]

    # requests and answers, a broken promise, a breached plan
    question = next(r for r in doc["requests"] if r["kind"] == "question")
    assert [e["message"] for e in question["events"]][-1] == "The law allows them after the letter."
    promise = next(r for r in doc["requests"] if r["kind"] == "promise")
    assert promise["promise_date"] == day(35).isoformat() and promise["promise_broken"]
    (plan,) = doc["plans"]
    assert plan["status"] == "breached" and plan["end_reason"] == "instalment 1 not paid"
    assert len(plan["instalments"]) == 3
    assert [b["action"] for b in doc["breaches"]] == ["plan.breached"]

    # the timeline
    actions = [e["action"] for e in doc["timeline"]]
    for action in (
        "reminder.sent",
        "dunning.costs_added",
        "payment.received",
        "dunning.ready_for_collection",
        "collection.handed_over",
    ):
        assert action in actions, action

    # the spreadsheet: invoices and payments as values
    workbook = load_workbook(io.BytesIO(zf.read("invoices.xlsx")))
    rows = list(workbook["Invoices"].iter_rows(values_only=True))
    assert {r[0] for r in rows[1:]} == set(numbers)
    assert any(
        r[0] == payment.public_id and r[9] == 50
        for r in workbook["Payments"].iter_rows(values_only=True)
    )

    # the PDF summary a person reads
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(zf.read("summary.pdf"))).pages)
    text = " ".join(text.split())
    for needle in (
        "Collection dossier",
        "Anna de Vries",
        "F-1001",
        "425.00",
        "WIK",
        "Incasso Oost",
    ):
        assert needle in text, needle
    assert {"summary.pdf", "invoices.xlsx", "dossier.json"} <= names
