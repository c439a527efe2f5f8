"""The dunning run over a calendar: the right step on the right day, once, with holds."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from portal.db import db
from portal.domain.dunning import engine
from portal.mails import ReminderMails
from portal.models import (
    AuditEvent,
    Invoice,
    InvoiceReminder,
    OutboxMessage,
    ReminderSchedule,
    ReminderStep,
    RunPreview,
)
from portal.tasks import send_outbox_now
from tests.conftest import body_text
from tests.factories import create_brand, create_debtor, create_invoice
from tests.payments.helpers import checkout_of

DUE = dt.date(2026, 10, 15)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def at_ten(day):
    """10:00 in the business time zone on `day`."""
    return dt.datetime.combine(day, dt.time(10, 0), tzinfo=AMSTERDAM)


def run_and_send(app, day):
    """The run of `day`, then the outbox sends what it queued, that same morning."""
    with time_machine.travel(at_ten(day), tick=False):
        result = run(app, day)
        send_outbox_now()
    return result


def png_bytes() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), "#0f766e").save(out, format="PNG")
    return out.getvalue()


def run(app, day, dry_run=False):
    with app.test_request_context():
        result = engine.run(
            db.session(), day, ReminderMails(app.config["SETTINGS"]), dry_run=dry_run
        )
        db.session.commit()
    return result


def kinds_sent(invoice):
    return list(
        db.session.scalars(
            select(ReminderStep.kind)
            .join(InvoiceReminder, InvoiceReminder.step_id == ReminderStep.id)
            .where(InvoiceReminder.invoice_id == invoice.id)
            .order_by(InvoiceReminder.sent_on)
        )
    )


def test_an_invoice_walks_through_every_step_on_its_day(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(
        debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE, total_cents=300_000
    )
    expected = {
        -3: "nudge",
        7: "reminder",
        14: "reminder",
        21: "notice",
        28: "fourteen_day",
        45: "collection",
    }
    for offset in range(-5, 50):  # each message is written and sent on its run's day
        run_and_send(app, DUE + dt.timedelta(days=offset))
        sent = kinds_sent(invoice)
        assert sent == [expected[o] for o in sorted(expected) if o <= offset], offset
    messages = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "reminder").order_by(OutboxMessage.id)
    ).all()
    assert len(messages) == 5  # the collection step only marks the invoice
    last = messages[-1]
    # WIK over EUR 3,000, with the deadline: sent Thursday 12 Nov, received the next
    # business day, 14 days from then
    assert "€425.00" in last.body_text and "27 Nov 2026" in last.body_text
    assert re.search(r"http://portal\.test/p/\S+", last.body_text)  # a personal pay-link


def test_a_missed_month_catches_up_one_step_at_a_time(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    old = create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    late = DUE + dt.timedelta(days=60)
    run(app, late)
    assert kinds_sent(old) == ["reminder"]  # not the nudge, not the 14-day letter at once
    run(app, late + dt.timedelta(days=3))
    assert kinds_sent(old) == ["reminder"]  # the minimum gap of 7 days
    run(app, late + dt.timedelta(days=7))
    run(app, late + dt.timedelta(days=14))
    run(app, late + dt.timedelta(days=21))
    assert kinds_sent(old) == ["reminder", "reminder", "notice", "fourteen_day"]


def test_one_message_per_debtor_and_step_lists_all_invoices(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    numbers = []
    for _n in range(3):
        invoice = create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
        numbers.append(invoice.number)
    other = create_debtor(segment_id=segment.id)
    create_invoice(other, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    result = run(app, DUE + dt.timedelta(days=7))
    assert result.messages == 2 and result.invoices == 4
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.debtor_id == debtor.id))
    assert mail.body_text == ""  # written when sent, not during the run
    mail_id = mail.id
    send_outbox_now()
    mail = db.session.get(OutboxMessage, mail_id)
    assert all(number in mail.body_text for number in numbers)


def test_a_reminder_paid_before_it_is_sent_is_dropped_and_a_part_paid_one_asks_less(app, segment):
    paid_debtor = create_debtor(segment_id=segment.id)
    paid = create_invoice(paid_debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    part_debtor = create_debtor(segment_id=segment.id, language="en")
    part = create_invoice(
        part_debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE, total_cents=10_000
    )
    paid_id, part_id = paid.id, part.id
    run(app, DUE + dt.timedelta(days=7))
    paid, part = db.session.get(Invoice, paid_id), db.session.get(Invoice, part_id)
    paid.open_cents, paid.status = 0, "paid"
    part.open_cents = 2_500
    db.session.commit()
    result = send_outbox_now()
    assert result.dropped == 1
    dropped = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.debtor_id == paid_debtor.id)
    )
    assert dropped.status == "dropped" and dropped.body_text == ""
    sent = db.session.scalar(select(OutboxMessage).where(OutboxMessage.debtor_id == part_debtor.id))
    assert sent.status in ("sent", "local") and "Total: €25.00" in sent.body_text


def test_held_paid_and_do_not_contact_are_left_alone(app, segment):
    day = DUE + dt.timedelta(days=7)
    debtor = create_debtor(segment_id=segment.id)
    kwargs = {"invoice_date": DUE - dt.timedelta(days=14), "due_date": DUE}
    disputed = create_invoice(debtor, hold_reason="dispute", **kwargs)
    promised = create_invoice(debtor, hold_reason="promise", hold_until=day, **kwargs)
    paid = create_invoice(debtor, open_cents=0, status="paid", **kwargs)
    quiet = create_debtor(segment_id=segment.id, do_not_contact=True)
    create_invoice(quiet, **kwargs)
    assert run(app, day).invoices == 0
    assert run(app, day + dt.timedelta(days=1)).invoices == 1  # the promise date has passed
    assert kinds_sent(promised) == ["reminder"]
    assert kinds_sent(disputed) == [] and kinds_sent(paid) == []


def test_a_second_run_the_same_day_sends_nothing(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    day = DUE + dt.timedelta(days=7)
    assert run(app, day, dry_run=True).by_kind == {"reminder": 1}
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert run(app, day).messages == 1
    assert run(app, day).messages == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


@pytest.mark.parametrize("chunk", [1, 500])
def test_a_run_killed_halfway_never_sends_a_step_twice(app, segment, monkeypatch, chunk):
    """Killed after the first group: with chunks of one group the first is committed and
    the rerun sends only the second; in one big chunk nothing was committed and the rerun
    sends both. Either way each debtor gets exactly one message."""
    first = create_debtor(segment_id=segment.id)
    second = create_debtor(segment_id=segment.id)
    for debtor in (first, second):
        create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    day = DUE + dt.timedelta(days=7)
    real = engine._queue_group
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "CHUNK", chunk)
    monkeypatch.setattr(engine, "_queue_group", crash_on_second)
    with pytest.raises(RuntimeError):
        run(app, day)
    db.session.rollback()
    monkeypatch.setattr(engine, "_queue_group", real)
    assert run(app, day).messages == (1 if chunk == 1 else 2)
    counts = db.session.execute(
        select(OutboxMessage.debtor_id, func.count()).group_by(OutboxMessage.debtor_id)
    ).all()
    assert sorted(n for _, n in counts) == [1, 1]


def test_an_overlapping_run_that_got_there_first_is_respected(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    day = DUE + dt.timedelta(days=7)
    step = db.session.scalar(
        select(ReminderStep)
        .where(ReminderStep.schedule_id == segment.schedule_id, ReminderStep.kind == "reminder")
        .order_by(ReminderStep.position)
    )

    original = engine.due_steps

    def racing(session, when):
        found = original(session, when)
        # the other run commits the same (invoice, step) between our query and our insert
        db.session.add(InvoiceReminder(invoice_id=invoice.id, step_id=step.id, sent_on=when))
        db.session.commit()
        return found

    engine.due_steps = racing
    try:
        result = run(app, day)
    finally:
        engine.due_steps = original
    assert result.skipped == 1 and result.messages == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_reminders_arrive_over_smtp_with_text_html_and_the_logo(app, segment, inbox):
    logo = png_bytes()
    brand = create_brand(name="Zon B.V.", logo=logo, logo_mime="image/png", primary_color="#0f766e")
    debtor = create_debtor(brand, segment_id=segment.id, language="nl")
    invoice = create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    run(app, DUE + dt.timedelta(days=21))
    send_outbox_now()
    mail = inbox.wait_for(debtor.primary_email)
    assert str(mail["Subject"]) == "Herinnering: betaling van €\xa0121,00"
    assert invoice.number in body_text(mail)
    html_part = mail.get_body(preferencelist=("html",))
    html = html_part.get_content()
    assert "/p/" in html and invoice.number in html
    # the brand's colour is inlined (mail clients drop <style>), the logo travels along
    assert "<style" not in html and "background:#0f766e" in html.replace(" ", "")
    assert 'src="cid:brand-logo"' in html
    (image,) = [p for p in mail.walk() if p.get_content_maintype() == "image"]
    assert image["Content-ID"] == "<brand-logo>" and image.get_content() == logo
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reminder.sent"))
    assert event.invoice_id == invoice.id and event.details["step"] == "reminder"


def test_cli_dry_run_counts(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE)
    out = app.test_cli_runner().invoke(args=["dunning", "run", "--date", "2026-10-22", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "2026-10-22: would send steps for 1 invoices (reminder 1)" in out.output
    bad = app.test_cli_runner().invoke(args=["dunning", "run", "--date", "22-10-2026"])
    assert bad.exit_code == 2


def test_the_dashboard_tells_what_tomorrow_brings(app, segment, client):
    from tests.admin.test_admin import admin_login
    from tests.factories import create_admin

    debtor = create_debtor(segment_id=segment.id)
    from portal.domain.clock import today

    tomorrow = today(app.config["SETTINGS"].portal_timezone) + dt.timedelta(days=1)
    for _n in range(2):
        create_invoice(
            debtor,
            invoice_date=tomorrow - dt.timedelta(days=21),
            due_date=tomorrow - dt.timedelta(days=7),
        )
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    page = client.get("/admin/").get_data(as_text=True)
    assert re.search(r"<strong>1</strong> reminders", page)  # one message for both invoices
    assert "Counted at" in page

    # the figures are kept (counting a million invoices takes seconds); a view within the
    # quarter hour shows them as counted, a later one has the worker count again
    other = create_debtor(segment_id=segment.id)
    create_invoice(
        other,
        invoice_date=tomorrow - dt.timedelta(days=21),
        due_date=tomorrow - dt.timedelta(days=7),
    )
    assert re.search(r"<strong>1</strong> reminders", client.get("/admin/").get_data(True))
    kept = db.session.get(RunPreview, tomorrow)
    kept.computed_at -= dt.timedelta(minutes=16)
    db.session.commit()
    client.get("/admin/")  # asks the worker (inline in tests) to count again
    assert re.search(r"<strong>2</strong> reminders", client.get("/admin/").get_data(True))


def test_costs_and_interest_become_debt_after_the_letter_and_are_paid_first(app, segment, client):
    from portal.models import InterestRate, Payment, Segment
    from tests.conftest import login_as
    from tests.payments.test_paying import sandbox_decide, start

    for half in (dt.date(2026, 7, 1), dt.date(2027, 1, 1)):
        db.session.add(InterestRate(kind="consumer", valid_from=half, basis_points=400))
    db.session.commit()
    debtor = create_debtor(segment_id=segment.id, language="en")
    invoice = create_invoice(
        debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE, total_cents=300_000
    )
    letter_day = DUE + dt.timedelta(days=28)
    for offset in range(-3, 29, 1):
        run_and_send(app, DUE + dt.timedelta(days=offset))
    assert kinds_sent(invoice)[-1] == "fourteen_day"
    # delivered Thursday 12 Nov: received Friday, 14 days from then
    last_day_to_pay = letter_day + dt.timedelta(days=15)
    run(app, last_day_to_pay)
    lines = lambda: db.session.scalars(  # noqa: E731
        select(Invoice).where(Invoice.kind.in_(("costs", "interest"))).order_by(Invoice.kind)
    ).all()
    assert lines() == []  # the debtor still has the whole last day
    run(app, last_day_to_pay + dt.timedelta(days=1))
    run(app, last_day_to_pay + dt.timedelta(days=2))  # a second run adds nothing
    costs, interest = lines()
    assert (costs.kind, costs.total_cents) == ("costs", 42_500)  # WIK over 3,000.00
    # 4% on 3,000.00 for the 44 days after the due date: 14.47
    assert (interest.kind, interest.total_cents) == ("interest", 1_447)

    # the portal shows them as lines of their own, payable like invoices
    login_as(client, debtor)
    page = client.get("/invoices").get_data(as_text=True)
    assert "Collection costs" in page and "Statutory interest" in page

    # a payment of 500.00 over all three settles costs, then interest, then the principal
    db.session.get(Segment, segment.id).allow_partial = True
    db.session.commit()
    paid = start(client, [invoice, costs, interest], amount="500,00")
    sandbox_decide(client, checkout_of(client, paid), "paid")
    payment = db.session.scalar(select(Payment))
    client.get(f"/pay/return/{payment.public_id}")
    db.session.expire_all()
    assert db.session.get(Invoice, costs.id).open_cents == 0
    assert db.session.get(Invoice, interest.id).open_cents == 0
    assert db.session.get(Invoice, invoice.id).open_cents == 300_000 - (50_000 - 42_500 - 1_447)


def test_business_days_only_moves_a_weekend_step_to_monday(app, segment):
    schedule = db.session.get(ReminderSchedule, segment.schedule_id)
    schedule.business_days_only = True
    db.session.commit()
    saturday = dt.date(2026, 10, 24)
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(
        debtor, invoice_date=saturday - dt.timedelta(days=21), due_date=saturday - dt.timedelta(7)
    )
    run(app, saturday)
    run(app, saturday + dt.timedelta(days=1))
    assert kinds_sent(invoice) == []
    run(app, saturday + dt.timedelta(days=2))
    assert kinds_sent(invoice) == ["reminder"]


def test_the_dashboard_counts_tomorrows_messages_per_channel(app, segment, client):
    from portal.domain.clock import today
    from tests.admin.test_admin import admin_login
    from tests.factories import create_admin

    step = db.session.scalar(
        select(ReminderStep).where(
            ReminderStep.schedule_id == segment.schedule_id, ReminderStep.kind == "reminder"
        )
    )
    step.channels = "email,sms"
    db.session.commit()
    tomorrow = today(app.config["SETTINGS"].portal_timezone) + dt.timedelta(days=1)
    kwargs = {"invoice_date": tomorrow - dt.timedelta(21), "due_date": tomorrow - dt.timedelta(7)}
    create_invoice(create_debtor(segment_id=segment.id, phone="+31612345678"), **kwargs)
    create_invoice(create_debtor(segment_id=segment.id, phone=""), **kwargs)
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    page = client.get("/admin/").get_data(as_text=True)
    assert "<strong>2</strong> emails" in page and "<strong>1</strong> SMS" in page


def test_the_preview_reads_debtors_in_chunks_and_counts_them_all(app, segment, monkeypatch):
    # PostgreSQL takes at most 65,535 parameters: a million invoices have more due debtors
    day = DUE + dt.timedelta(days=7)
    for _n in range(5):
        create_invoice(
            create_debtor(segment_id=segment.id),
            invoice_date=DUE - dt.timedelta(days=14),
            due_date=DUE,
        )
    whole = engine.preview(db.session(), day)
    monkeypatch.setattr(engine, "PREVIEW_CHUNK", 2)
    chunked = engine.preview(db.session(), day)
    assert whole.by_kind["reminder"] == chunked.by_kind["reminder"] == 5
    assert whole.by_channel == chunked.by_channel
