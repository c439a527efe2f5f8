"""Scenarios through the real run and the real outbox: costs and interest are booked only
when every deadline the debtor was told has passed, from the day a message was delivered
(an SMTP server in this process accepts the mail, or answers 550 for a bounce)."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlalchemy import select

from portal.db import db
from portal.domain.dunning import engine, interest
from portal.domain.messaging import letters, outbox
from portal.domain.messaging.email import transport_for
from portal.mails import LetterWriter, ReminderMails, SendTimeRenderer, letters_pdf
from portal.models import (
    AuditEvent,
    Claim,
    Debtor,
    Invoice,
    InvoiceReminder,
    OutboxMessage,
    ReminderSchedule,
    ReminderStep,
)
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import free_port, login_as
from tests.factories import create_admin, create_brand, create_debtor, create_invoice

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DUE = dt.date(2026, 10, 15)  # a Thursday; the 14-day letter of the test schedule: 12 Nov


class Bouncer:
    """An SMTP server that refuses every address starting with 'bounce' (550)."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.accepted.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def smtp_url():
    port = free_port()
    controller = Controller(Bouncer(), hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}"
    controller.stop()


def at_ten(day):
    return dt.datetime.combine(day, dt.time(10, 0), tzinfo=AMSTERDAM)


def run(app, day):
    """The morning run of `day` (booking first, then the steps)."""
    with time_machine.travel(at_ten(day), tick=False), app.test_request_context():
        engine.run(db.session(), day, ReminderMails(app.config["SETTINGS"]))
        db.session.commit()


def send(app, smtp_url, day):
    """The outbox worker on `day`: writes each queued mail and talks SMTP."""
    with time_machine.travel(at_ten(day), tick=False), app.test_request_context():
        settings = app.config["SETTINGS"]
        outbox.send_pending(db.session, transport_for(smtp_url), render=SendTimeRenderer(settings))


def run_and_send(app, smtp_url, day):
    run(app, day)
    send(app, smtp_url, day)


def print_batch(app, day):
    with time_machine.travel(at_ten(day), tick=False), app.test_request_context():
        batch = letters.make_batch(
            db.session(), "test", day, LetterWriter(app.config["SETTINGS"]), letters_pdf
        )
        db.session.commit()
    return batch


def lines_of(debtor, kind=None):
    kinds = (kind,) if kind else ("costs", "interest")
    return list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.debtor_id == debtor.id, Invoice.kind.in_(kinds))
            .order_by(Invoice.id)
        )
    )


def walk(app, smtp_url, offsets, due=DUE):
    for offset in offsets:
        run_and_send(app, smtp_url, due + dt.timedelta(days=offset))


def fourteen_day_by(segment, channels):
    schedule = db.session.get(ReminderSchedule, segment.schedule_id)
    step = next(s for s in schedule.steps if s.kind == "fourteen_day")
    step.channels = channels
    db.session.commit()


# ------------------------------------------------------------------ delivery
def test_a_bounced_14_day_email_books_nothing_until_it_arrives_by_post(
    app, client, segment, smtp_url
):
    debtor = create_debtor(segment_id=segment.id, emails=["bounce-anna@example.com"])
    invoice = create_invoice(debtor, due_date=DUE, total_cents=300_000)
    walk(app, smtp_url, (7, 14, 21, 28))
    letter_email = db.session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.debtor_id == debtor.id)
        .order_by(OutboxMessage.id.desc())
    )
    assert letter_email.status == "failed" and "550" in letter_email.last_error
    run(app, DUE + dt.timedelta(days=60))  # long past any deadline it would have stated
    assert lines_of(debtor) == []
    claim = db.session.scalar(select(Claim).where(Claim.debtor_id == debtor.id))
    assert claim.undelivered

    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "letter announcing costs was not delivered" in dashboard
    page = client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    assert "14-day letter not delivered" in page
    posted = client.post(
        f"/admin/claims/{claim.id}/post",
        data={"csrf_token": page_csrf(client, "/admin/letters"), "invoice_id": invoice.id},
    )
    assert posted.status_code == 303
    assert letters.pending_count(db.session()) == 1
    # printed on Wednesday 23 December: Christmas is no business day, so it is received
    # on Tuesday 29 December (not Monday 28) and the debtor has until 12 January
    batch = print_batch(app, dt.date(2026, 12, 23))
    printed = PdfReader(io.BytesIO(batch.pdf)).pages[0].extract_text().replace("\n", " ")
    assert "12 Jan 2027" in printed  # the deadline the letter states
    assert re.search(r"payment reference: RF\d{2}( \d{4})+", printed)  # and the transfer
    run(app, dt.date(2027, 1, 12))
    assert lines_of(debtor) == []
    run(app, dt.date(2027, 1, 13))
    (costs,) = lines_of(debtor, "costs")
    assert costs.total_cents == 42_500  # WIK over EUR 3,000


def test_email_plus_letter_books_after_the_later_deadline_and_never_while_unprinted(
    app, segment, smtp_url
):
    fourteen_day_by(segment, "email,letter")
    debtor = create_debtor(segment_id=segment.id)
    create_invoice(debtor, due_date=DUE, total_cents=300_000)
    walk(app, smtp_url, (7, 14, 21, 28))  # the email of Thursday 12 Nov: until 27 Nov
    run(app, dt.date(2026, 11, 28))
    assert lines_of(debtor) == []  # the letter is not printed: its period has not started
    run(app, dt.date(2026, 11, 30))
    assert lines_of(debtor) == []
    print_batch(app, dt.date(2026, 11, 30))  # Monday: received Thursday 3 Dec, until 17 Dec
    run(app, dt.date(2026, 12, 17))
    assert lines_of(debtor) == []
    run(app, dt.date(2026, 12, 18))
    assert [line.total_cents for line in lines_of(debtor, "costs")] == [42_500]


def test_a_delayed_outbox_moves_the_deadline_it_states_and_the_booking(app, segment, smtp_url):
    debtor = create_debtor(segment_id=segment.id)
    create_invoice(debtor, due_date=DUE, total_cents=300_000)
    walk(app, smtp_url, (7, 14, 21))
    run(app, dt.date(2026, 11, 12))  # the 14-day letter is queued on Thursday 12 Nov ...
    send(app, smtp_url, dt.date(2026, 11, 16))  # ... and leaves on Monday 16 Nov
    mail = db.session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.debtor_id == debtor.id)
        .order_by(OutboxMessage.id.desc())
    )
    assert "1 Dec 2026" in mail.body_text  # received Tuesday 17 Nov, 14 days from then
    run(app, dt.date(2026, 11, 28))  # the old rule (queued + 15) booked on this day
    run(app, dt.date(2026, 12, 1))
    assert lines_of(debtor) == []
    run(app, dt.date(2026, 12, 2))
    assert [line.total_cents for line in lines_of(debtor, "costs")] == [42_500]


def test_without_smtp_the_local_outbox_counts_as_delivered(app, segment):
    """Development and the demo run without SMTP_URL: mail kept in the local outbox is
    delivered as far as this installation can tell, so the costs flow can be seen there
    (production refuses to start without SMTP_URL)."""
    debtor = create_debtor(segment_id=segment.id)
    create_invoice(debtor, due_date=DUE, total_cents=300_000)
    walk(app, "", (7, 14, 21, 28))  # "" : no SMTP_URL, the local transport
    letter = db.session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.debtor_id == debtor.id)
        .order_by(OutboxMessage.id.desc())
    )
    assert letter.status == "local" and letter.sent_at is not None
    run(app, dt.date(2026, 11, 27))
    assert lines_of(debtor) == []  # the debtor still has the whole period
    run(app, dt.date(2026, 11, 28))
    assert [line.total_cents for line in lines_of(debtor, "costs")] == [42_500]


# --------------------------------------------------------------- per regime
def test_a_belgian_consumer_gets_a_free_first_reminder_and_then_the_capped_compensation(
    app, smtp_url
):
    brand = create_brand(country="BE", enterprise_number="0123.456.789", name="De Klok")
    debtor = create_debtor(brand, country="BE", language="en")  # the default schedule
    create_invoice(debtor, due_date=DUE, total_cents=30_000)
    run_and_send(app, smtp_url, DUE + dt.timedelta(days=7))  # the free first reminder
    first = db.session.scalar(select(OutboxMessage).where(OutboxMessage.debtor_id == debtor.id))
    text = first.body_text.replace("\n", " ")
    assert "first reminder is free of charge" in text
    assert "De Klok (enterprise number 0123.456.789)" in text
    assert "15 Oct 2026" in text  # the due date, also in the table
    assert "€300.00" in text and "€45.00" in text  # the amount and the compensation to come
    run_and_send(app, smtp_url, DUE + dt.timedelta(days=21))  # the notice of Thu 5 Nov
    run(app, dt.date(2026, 11, 20))  # received Fri 6 Nov (BE calendar), until 20 Nov
    assert lines_of(debtor) == []
    run(app, dt.date(2026, 11, 21))
    (costs,) = lines_of(debtor)  # Book XIX: EUR 30 + 10% of 150; no interest is booked
    assert (costs.kind, costs.total_cents) == ("costs", 4_500)


@pytest.mark.parametrize(
    ("country", "costs", "rate"),
    [
        ("NL", 8_000, 1015),  # WIK's 40 < 2 x EUR 40; art. 6:119a BW 10.15%, compounding
        ("BE", 8_000, 1050),  # 2 x the fixed EUR 40; law of 2 Aug 2002 10.5%, simple
    ],
)
def test_business_customers_pay_costs_and_commercial_interest_from_the_due_date(
    app, smtp_url, country, costs, rate
):
    brand = create_brand(country=country)
    debtor = create_debtor(brand, kind="b2b", country=country)  # the default Business schedule
    due = dt.date(2026, 1, 15)
    invoices = [
        create_invoice(debtor, invoice_date=due, due_date=due, total_cents=10_000)
        for _n in range(2)
    ]
    walk(app, smtp_url, (7, 14, 21), due=due)  # the notice with costs: Thursday 5 February
    run(app, dt.date(2026, 2, 20))  # received Friday 6 Feb, until 20 Feb
    assert lines_of(debtor) == []
    run(app, dt.date(2026, 2, 21))
    (booked_costs,) = lines_of(debtor, "costs")
    (first,) = lines_of(debtor, "interest")
    assert booked_costs.total_cents == costs
    # 37 days after the due date on EUR 100 each: 100 * rate * 37 / 365, per invoice
    each = round(10_000 * rate / 10_000 * 37 / 365)
    assert first.total_cents == 2 * each
    # a month later the run tops the interest up: a second line, never the first again
    run(app, dt.date(2026, 3, 22))
    run(app, dt.date(2026, 3, 23))
    lines = lines_of(debtor, "interest")
    assert [line.number.rsplit("-", 1)[-1] for line in lines][1:] == ["2"]
    table = interest.rates(db.session(), "commercial" if country == "NL" else "be_commercial")
    whole = sum(
        interest.statutory_interest(
            i.total_cents, due, dt.date(2026, 3, 23), table, compound=country == "NL"
        )
        for i in invoices
    )
    assert abs(sum(line.total_cents for line in lines) - whole) <= 2  # per-booking rounding


def test_a_missing_rate_holds_interest_back_and_the_whole_period_is_booked_once_added(
    app, client, segment, smtp_url
):
    debtor = create_debtor(segment_id=segment.id)
    create_invoice(debtor, due_date=DUE, total_cents=300_000)
    walk(app, smtp_url, (7, 14, 21, 28))
    run(app, dt.date(2026, 11, 28))
    assert [line.kind for line in lines_of(debtor)] == ["costs"]  # no consumer rate 2026-H2
    claim = db.session.scalar(select(Claim).where(Claim.debtor_id == debtor.id))
    assert claim.waiting_for_rate == "consumer:2026-07-01"
    create_admin("rates@example.com")
    admin_login(client, "rates@example.com")
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "Interest waits for these rates: consumers NL from 1 Jul 2026" in dashboard
    run(app, dt.date(2026, 12, 20))  # still missing: still nothing, and nothing lost
    assert [line.kind for line in lines_of(debtor)] == ["costs"]
    interest.add_rate(db.session(), "consumer", dt.date(2026, 7, 1), 400, "admin:1")
    db.session.commit()
    run(app, dt.date(2026, 12, 21))
    (booked,) = lines_of(debtor, "interest")
    # 4% on EUR 3,000 for the 67 days after 15 October: the whole period at once
    assert booked.total_cents == round(300_000 * 0.04 * 67 / 365)
    assert db.session.get(Claim, claim.id).waiting_for_rate == ""


# --------------------------------------------------------------- send now
def test_send_now_is_refused_on_a_disputed_invoice_and_allowed_with_an_audited_override(
    app, client, segment, inbox
):
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor, due_date=DUE, hold_reason="dispute")
    fourteen = db.session.scalar(
        select(ReminderStep).where(
            ReminderStep.schedule_id == segment.schedule_id, ReminderStep.kind == "fourteen_day"
        )
    )
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    token = page_csrf(client, f"/admin/invoices/{invoice.id}")
    refused = client.post(
        f"/admin/invoices/{invoice.id}/send-step",
        data={"csrf_token": token, "step_id": fourteen.id},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "The daily run would not send it: the invoice is disputed." in refused
    assert db.session.scalar(select(InvoiceReminder.id)) is None
    db.session.get(Invoice, invoice.id).hold_reason = ""  # decided; no reminder went out yet
    db.session.commit()
    first_letter = client.post(
        f"/admin/invoices/{invoice.id}/send-step",
        data={"csrf_token": token, "step_id": fourteen.id},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "a consumer gets no 14-day letter before a reminder" in first_letter
    reason = "Debtor asked for the formal letter on the phone"
    sent = client.post(
        f"/admin/invoices/{invoice.id}/send-step",
        data={"csrf_token": token, "step_id": fourteen.id, "override": reason},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "The step was sent." in sent
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "admin.step_overridden")
    )
    assert event.details["override"] == reason and event.details["rule"] == "no_earlier_reminder"
    assert event.actor.startswith("admin:")
    assert reason in client.get(f"/admin/invoices/{invoice.id}").get_data(as_text=True)
    again = db.session.get(Debtor, debtor.id)
    assert again.primary_email  # loaded before the test request context
    login_as(client, again)  # the debtor sees the step, not why
    portal_page = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "Reminder step sent by hand" in portal_page and reason not in portal_page


def test_a_saved_text_without_the_notice_still_carries_it_to_a_belgian_consumer(app, smtp_url):
    from portal.domain.messaging import templates
    from portal.mails import sample_contexts

    brand = create_brand(country="BE", enterprise_number="0123.456.789")
    plain = templates.Source(
        "Reminder", "<p>Please pay.</p>{{ invoice_table }}{{ pay_button }}",
        "Please pay.\n{{ invoice_table }}\n{{ pay_link }}",
    )  # fmt: skip
    with app.test_request_context():
        settings = app.config["SETTINGS"]
        sample = sample_contexts(db.session(), brand, "reminder", "en", settings, DUE)
        templates.save(db.session(), brand.id, "reminder", "en", plain, "admin:1", sample)
        db.session.commit()
    debtor = create_debtor(brand, country="BE", language="en")
    create_invoice(debtor, due_date=DUE, total_cents=30_000)
    run_and_send(app, smtp_url, DUE + dt.timedelta(days=7))
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.debtor_id == debtor.id))
    assert mail.body_text.startswith("Please pay.")
    assert "first reminder is free of charge" in mail.body_text.replace("\n", " ")
    assert "first reminder is free of charge" in mail.body_html
