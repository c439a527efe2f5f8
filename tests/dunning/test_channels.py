"""Reminder steps by email, SMS and letter: one message per channel, never twice, SMS in
daytime and written when sent, letters printed in batches with their own deadline."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import func, select

from portal.db import db
from portal.domain.messaging import letters, templates
from portal.mails import sample_contexts
from portal.models import (
    AuditEvent,
    Invoice,
    OutboxMessage,
    PrintBatch,
    PrintedLetter,
    ReminderSchedule,
    ReminderStep,
)
from portal.tasks import send_outbox_now
from tests.admin.test_admin import admin_login, page_csrf
from tests.dunning.test_engine import DUE, run
from tests.factories import create_admin, create_debtor, create_invoice

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
REMINDER_DAY = DUE + dt.timedelta(days=7)  # the first reminder step of the test schedule


def use_channels(segment, channels, kind=None, fee_rule=None, daytime_only=True):
    """Let the schedule's first reminder step (day 7) go out by `channels`."""
    schedule = db.session.get(ReminderSchedule, segment.schedule_id)
    schedule.sms_daytime_only = daytime_only
    step = next(s for s in schedule.steps if s.offset_days == 7)
    step.channels = channels
    if kind:
        step.kind = kind
    if fee_rule:
        step.fee_rule = fee_rule
    db.session.commit()
    return step


def messages_of(debtor):
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.debtor_id == debtor.id)
            .order_by(OutboxMessage.id)
        )
    )


def due_invoice(debtor, **kw):
    return create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE, **kw)


def test_a_step_by_email_sms_and_letter_queues_three_messages_once(app, segment):
    use_channels(segment, "email,sms,letter")
    debtor = create_debtor(segment_id=segment.id, phone="+31612345678")
    due_invoice(debtor)
    result = run(app, REMINDER_DAY)
    assert result.messages == 3 and result.skipped == 0
    queued = messages_of(debtor)
    assert sorted(m.channel for m in queued) == ["email", "letter", "sms"]
    assert {m.recipient for m in queued} >= {"+31612345678", debtor.primary_email}
    assert len({m.dedupe_key for m in queued}) == 3
    # a second run, the same day or the next, sends nothing again on any channel
    assert run(app, REMINDER_DAY).messages == 0
    assert run(app, REMINDER_DAY + dt.timedelta(days=1)).messages == 0
    assert len(messages_of(debtor)) == 3


def test_a_debtor_without_a_phone_gets_the_email_and_the_skip_is_recorded(app, segment):
    use_channels(segment, "email,sms")
    debtor = create_debtor(segment_id=segment.id, phone="")
    invoice = due_invoice(debtor)
    assert run(app, REMINDER_DAY).messages == 1
    assert [m.channel for m in messages_of(debtor)] == ["email"]
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.invoice_id == invoice.id, AuditEvent.action == "reminder.sent"
        )
    )
    assert event.details["channels"] == ["email"]
    assert event.details["skipped"] == {"sms": "no_phone"}


def test_a_number_not_in_e164_is_not_texted(app, segment):
    use_channels(segment, "sms")
    debtor = create_debtor(segment_id=segment.id, phone="0612345678")
    due_invoice(debtor)
    result = run(app, REMINDER_DAY)
    assert result.messages == 0 and result.skipped == 1  # no channel of the step reaches it
    assert messages_of(debtor) == []


def test_an_sms_queued_at_half_past_nine_in_the_evening_waits_until_nine(app, segment):
    use_channels(segment, "sms")
    debtor = create_debtor(segment_id=segment.id, phone="+31612345678")
    due_invoice(debtor)
    evening = dt.datetime.combine(REMINDER_DAY, dt.time(21, 30), tzinfo=AMSTERDAM)
    with time_machine.travel(evening, tick=False):
        run(app, REMINDER_DAY)
    (text,) = messages_of(debtor)
    next_morning = dt.datetime.combine(
        REMINDER_DAY + dt.timedelta(days=1), dt.time(9, 0), tzinfo=AMSTERDAM
    )
    assert text.next_attempt_at == next_morning
    with time_machine.travel(evening + dt.timedelta(minutes=5), tick=False):
        send_outbox_now()
    db.session.expire_all()
    assert db.session.get(OutboxMessage, text.id).status == "pending"  # not at night


def test_without_daytime_only_the_sms_may_leave_at_once(app, segment):
    use_channels(segment, "sms", daytime_only=False)
    debtor = create_debtor(segment_id=segment.id, phone="+31612345678")
    due_invoice(debtor)
    evening = dt.datetime.combine(REMINDER_DAY, dt.time(21, 30), tzinfo=AMSTERDAM)
    with time_machine.travel(evening, tick=False):
        run(app, REMINDER_DAY)
    (text,) = messages_of(debtor)
    assert text.next_attempt_at == evening


def test_the_sms_is_written_when_sent_with_the_pay_link_and_the_amount(app, segment):
    use_channels(segment, "sms")
    debtor = create_debtor(segment_id=segment.id, phone="+31612345678", language="nl")
    due_invoice(debtor, total_cents=12_100)
    noon = dt.datetime.combine(REMINDER_DAY, dt.time(12, 0), tzinfo=AMSTERDAM)
    with time_machine.travel(noon, tick=False):
        run(app, REMINDER_DAY)
        (text,) = messages_of(debtor)
        assert text.body_text == ""  # written when sent, like the mail
        text_id = text.id
        send_outbox_now()
    text = db.session.get(OutboxMessage, text_id)
    assert text.status == "local"  # the development provider keeps it in the outbox
    assert re.search(r"http://portal\.test/p/\S+", text.body_text)
    assert "€ 121,00" in text.body_text  # a plain space, not a no-break one
    assert "\u00a0" not in text.body_text


def test_an_sms_text_without_the_pay_link_is_refused(app):
    from tests.factories import create_brand

    brand = create_brand()
    with app.test_request_context():
        sample = sample_contexts(
            db.session(), brand, "sms_reminder", "en", app.config["SETTINGS"], REMINDER_DAY
        )
        faults = templates.check(
            "sms_reminder", templates.Source("", "", "Pay {{ total }}"), sample
        )
        assert [(f.part, f.problem.params.get("name")) for f in faults] == [("text", "pay_link")]
        ok = templates.Source("", "", "Pay {{ total }}: {{ pay_link }}")
        assert templates.check("sms_reminder", ok, sample) == []
        for language in ("nl", "en", "fr"):  # the shipped texts pass their own check
            assert (
                templates.check("sms_reminder", templates.default("sms_reminder", language), sample)
                == []
            )


def test_the_sms_editor_shows_one_part_and_counts_characters_and_segments(app, client):
    from tests.factories import create_brand

    brand = create_brand()
    create_admin("texts@example.com")
    admin_login(client, "texts@example.com")
    page = client.get(f"/admin/messages/{brand.id}/sms_reminder/en").get_data(as_text=True)
    assert 'name="text"' in page and 'name="subject"' not in page and 'name="html"' not in page
    token = page_csrf(client, f"/admin/messages/{brand.id}/sms_reminder/en")
    long_text = "x" * 150 + " {{ pay_link }}"
    preview = client.post(
        f"/admin/messages/{brand.id}/sms_reminder/en/preview",
        data={"csrf_token": token, "text": long_text},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    match = re.search(r"(\d+) characters · (\d+) SMS", preview)
    assert match and int(match.group(1)) > 160 and int(match.group(2)) == 2
    refused = client.post(
        f"/admin/messages/{brand.id}/sms_reminder/en",
        data={"csrf_token": token, "text": "Pay {{ total }}"},
    )
    assert refused.status_code == 422
    assert "pay_link" in refused.get_data(as_text=True)


# ----------------------------------------------------------------------------- letters
def test_letters_wait_for_a_print_batch_and_the_worker_never_sends_them(app, segment):
    use_channels(segment, "letter")
    debtor = create_debtor(segment_id=segment.id)
    due_invoice(debtor)
    run(app, REMINDER_DAY)
    (letter,) = messages_of(debtor)
    assert letter.channel == "letter" and "Kerkstraat 1" in letter.recipient
    send_outbox_now()
    db.session.expire_all()
    letter = db.session.get(OutboxMessage, letter.id)
    assert letter.status == "pending" and letter.attempts == 0 and letter.body_html == ""


def test_a_debtor_without_a_postal_address_gets_no_letter(app, segment):
    use_channels(segment, "email,letter")
    debtor = create_debtor(segment_id=segment.id, address_line="", postcode="", city="")
    due_invoice(debtor)
    run(app, REMINDER_DAY)
    assert [m.channel for m in messages_of(debtor)] == ["email"]


def test_business_days_skip_the_weekend():
    from portal.domain.dunning import terms

    friday = dt.date(2026, 10, 23)
    assert terms.add_business_days(friday, 3) == dt.date(2026, 10, 28)
    assert letters.deadline(friday) == dt.date(2026, 11, 11)
    assert letters.deadline(dt.date(2026, 10, 19)) == dt.date(2026, 11, 5)  # Mon -> Thu + 14


PRINT_DAY = dt.datetime(2026, 10, 30, 10, 0, tzinfo=AMSTERDAM)  # a Friday, after the run


def test_a_clerk_prints_a_batch_with_one_page_per_letter_and_the_posted_deadline(
    app, client, segment
):
    use_channels(segment, "email,letter", kind="fourteen_day", fee_rule="wik")
    first = create_debtor(segment_id=segment.id, name="Anna de Vries")
    second = create_debtor(segment_id=segment.id, name="Bram Peeters")
    due_invoice(first, total_cents=300_000)
    due_invoice(second, total_cents=12_345)
    run(app, REMINDER_DAY)
    create_admin("clerk@example.com", role="clerk")
    with time_machine.travel(PRINT_DAY, tick=False):
        admin_login(client, "clerk@example.com")
        page = client.get("/admin/letters").get_data(as_text=True)
        assert "2 letters" in page
        confirm = client.get("/admin/letters/batch")
        assert confirm.status_code == 200
        token = page_csrf(client, "/admin/letters/batch")
        made = client.post("/admin/letters/batch", data={"csrf_token": token})
        assert made.status_code == 303
        listing = client.get("/admin/letters").get_data(as_text=True)
        batch_id = db.session.scalar(select(func.max(PrintBatch.id)))
        assert f"/admin/letters/batches/{batch_id}.pdf" in listing
        download = client.get(f"/admin/letters/batches/{batch_id}.pdf")
    batch = db.session.scalar(select(PrintBatch).order_by(PrintBatch.id.desc()))
    assert batch.count == 2 and batch.printed_on == PRINT_DAY.date()
    printed = db.session.scalars(
        select(OutboxMessage).join(PrintedLetter).where(PrintedLetter.batch_id == batch.id)
    ).all()
    assert {m.status for m in printed} == {"sent"} and len(printed) == 2
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(download.data)).pages]
    assert len(pages) == 2
    # Friday 30 Oct: the third business day after posting is Wednesday 4 Nov; + 14 days
    earliest = dt.date(2026, 11, 4) + dt.timedelta(days=14)
    for text, name, amount in (
        (pages[0], "Anna de Vries", "€3,000.00"),
        (pages[1], "Bram Peeters", "€123.45"),
    ):
        assert name in text and amount in text
        assert "/p/" in text.replace("\n", "")  # the pay-link written out
        shown = re.search(r"by (\d{1,2} [A-Z][a-z]{2} \d{4})", text)
        assert shown, text
        assert dt.datetime.strptime(shown.group(1), "%d %b %Y").date() >= earliest
    assert letters.pending_count(db.session()) == 0


def test_a_print_batch_needs_the_csrf_token(app, client, segment):
    use_channels(segment, "letter")
    due_invoice(create_debtor(segment_id=segment.id))
    run(app, REMINDER_DAY)
    create_admin("clerk2@example.com", role="clerk")
    admin_login(client, "clerk2@example.com")
    response = client.post("/admin/letters/batch", data={})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(PrintBatch)) == 0
    assert letters.pending_count(db.session()) == 1


def test_a_letter_whose_invoices_were_paid_is_not_printed(app, segment):
    use_channels(segment, "letter")
    invoice_id = due_invoice(create_debtor(segment_id=segment.id)).id
    run(app, REMINDER_DAY)
    invoice = db.session.get(Invoice, invoice_id)
    invoice.open_cents, invoice.status = 0, "paid"
    db.session.commit()
    with app.test_request_context():
        from portal.mails import LetterWriter, letters_pdf

        batch = letters.make_batch(
            db.session(), "test", REMINDER_DAY, LetterWriter(app.config["SETTINGS"]), letters_pdf
        )
        db.session.commit()
    assert batch is None
    assert letters.pending_count(db.session()) == 0


@pytest.mark.parametrize("channels", ["", "fax", "letter,email"])
def test_the_database_refuses_channels_that_are_not_a_clean_choice(app, segment, channels):
    from sqlalchemy.exc import IntegrityError

    step = db.session.scalar(
        select(ReminderStep).where(ReminderStep.schedule_id == segment.schedule_id)
    )
    step.channels = channels
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_schedule_editor_ticks_channels_and_refuses_a_step_without_one(app, client, segment):
    from tests.dunning.test_schedules import admin, step_form

    schedule_id = segment.schedule_id
    admin(client)
    page = client.get("/admin/schedules").get_data(as_text=True)
    assert 'name="steps-1-channel" value="sms"' in page
    assert "Channels of step 2" in page  # the group's name for screen readers
    token = page_csrf(client, "/admin/schedules")
    schedule = db.session.get(ReminderSchedule, schedule_id)
    data = step_form(schedule, {1: {"channel": ["email", "sms"]}})
    data.pop("sms_daytime_only", None)
    response = client.post(f"/admin/schedules/{schedule.id}", data={"csrf_token": token, **data})
    assert response.status_code == 303
    db.session.expire_all()
    schedule = db.session.get(ReminderSchedule, schedule_id)
    assert schedule.steps[1].channels == "email,sms" and not schedule.sms_daytime_only
    data = step_form(schedule, {2: {"channel": []}})
    refused = client.post(f"/admin/schedules/{schedule.id}", data={"csrf_token": token, **data})
    assert refused.status_code == 422
    assert "Choose at least one channel for every step." in refused.get_data(as_text=True)


def test_costs_of_a_posted_letter_wait_for_its_deadline_from_the_print_day(app, segment):
    """A letter's 14 days start when it is printed and posted, not when the run queued it;
    the run adds the costs only once that deadline has passed."""
    from portal.mails import LetterWriter, letters_pdf

    use_channels(segment, "letter", kind="fourteen_day", fee_rule="wik")
    debtor = create_debtor(segment_id=segment.id)
    due_invoice(debtor, total_cents=300_000)
    run(app, REMINDER_DAY)
    (letter,) = [m for m in messages_of(debtor) if m.channel == "letter"]
    costs_line = f"COSTS-{letter.id}"

    def charged():
        return db.session.scalar(select(Invoice.id).where(Invoice.number == costs_line))

    run(app, REMINDER_DAY + dt.timedelta(days=16))  # a mailed letter's costs would be due
    assert charged() is None  # not printed yet: its period has not started
    printed_on = REMINDER_DAY + dt.timedelta(days=1)  # Friday 23 October 2026
    with app.test_request_context():
        letters.make_batch(
            db.session(), "test", printed_on, LetterWriter(app.config["SETTINGS"]), letters_pdf
        )
        db.session.commit()
    last_day = letters.deadline(printed_on)
    assert last_day == dt.date(2026, 11, 11)  # Wed 28 Oct (third business day) + 14
    run(app, last_day)
    assert charged() is None
    run(app, last_day + dt.timedelta(days=1))
    assert db.session.get(Invoice, charged()).total_cents == 42_500
