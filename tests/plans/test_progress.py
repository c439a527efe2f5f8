"""Keeping a plan: paying instalments one by one (portal and pay-link), what counts as paid,
reminders before and after each due date, completion, and the breach that ends a plan and
returns its invoices to the reminder schedule."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from portal.db import db
from portal.domain.dunning import engine
from portal.domain.payments import service
from portal.domain.payments.providers.base import Method, ProviderStatus, Status
from portal.domain.plans import lifecycle, progress, proposals, schedules
from portal.mails import InstalmentMails
from portal.models import (
    AuditEvent,
    InstalmentPlan,
    Invoice,
    InvoiceReminder,
    OutboxMessage,
    PayLink,
    Payment,
    ReminderStep,
)
from tests.conftest import csrf_from, login_as
from tests.dunning.test_engine import DUE
from tests.factories import create_debtor, create_invoice
from tests.payments.helpers import sandbox_provider

START = DUE + dt.timedelta(days=10)  # the first instalment's due date


def active_plan(debtor, *invoices, count=3):
    """A plan the debtor agreed to on DUE + 1, monthly from START."""
    today = DUE + dt.timedelta(days=1)
    proposal = proposals.propose(
        db.session(),
        debtor,
        [i.id for i in invoices],
        START,
        schedules.MONTHLY,
        today,
        count=count,
    )
    assert proposal.can_accept, proposal.problems
    plan = lifecycle.accept(db.session(), proposal, "I agree", "127.0.0.1", "t", today)
    db.session.commit()
    return plan


def overdue(debtor, cents, **kw):
    return create_invoice(
        debtor,
        invoice_date=DUE - dt.timedelta(days=14),
        due_date=DUE,
        total_cents=cents,
        **kw,
    )


def started(app, debtor, wish):
    """A committed sandbox payment started as `wish` says."""
    payment = service.start(
        db.session(),
        sandbox_provider(app),
        debtor,
        wish,
        return_url=lambda ref: ref,
        webhook_url=None,
        description=lambda rows: "test",
    )
    db.session.commit()
    return payment


def pay(app, payment, cents=None):
    """The provider reports `payment` paid (in full, or `cents`)."""
    truth = ProviderStatus(
        payment.provider_ref, Status.PAID, cents or payment.amount_cents, payment.currency
    )
    locked = service.locked(db.session(), payment.id)
    service.apply_truth(db.session(), locked, truth, None)
    db.session.commit()


def daily(app, day):
    with app.test_request_context():
        result = progress.daily(db.session(), day, InstalmentMails(app.config["SETTINGS"]))
        db.session.commit()
    return result


def test_the_debtor_pays_the_first_instalment_and_only_that_amount_is_asked(app, client):
    debtor = create_debtor()
    older = overdue(debtor, 20_000)
    newer = overdue(debtor, 10_000)
    plan = active_plan(debtor, older, newer)
    first, second, _third = plan.instalments
    login_as(client, debtor)

    detail = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert f"/pay?instalment={first.id}" in detail
    assert "Pay instalment 1" in detail and "€100.00" in detail

    page = client.get("/pay", query_string={"instalment": first.id})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Pay instalment 1 of 3" in html and "Pay €100.00" in html
    assert "Pay part of the amount" not in html  # an instalment is paid whole
    response = client.post(
        "/pay",
        data={"csrf_token": csrf_from(html), "instalment": first.id, "method": "ideal"},
    )
    assert response.status_code == 303
    payment = db.session.scalars(select(Payment)).one()
    assert (payment.amount_cents, payment.instalment_id) == (10_000, first.id)
    assert payment.description.startswith("Instalment 1 of 3")

    pay(app, payment)
    plan = db.session.get(InstalmentPlan, plan.id)
    first, second, _third = plan.instalments
    older, newer = db.session.get(Invoice, older.id), db.session.get(Invoice, newer.id)
    assert (first.paid_cents, first.paid_at is not None) == (10_000, True)
    assert second.paid_cents == 0
    assert plan.status == "active"
    # art. 6:44 BW: the oldest invoice first; both stay held by the plan
    assert (older.open_cents, newer.open_cents) == (10_000, 10_000)
    assert older.hold_reason == newer.hold_reason == "plan"
    detail = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert f"/pay?instalment={second.id}" in detail and "Paid" in detail
    invoice_page = client.get(f"/invoices/{older.id}").get_data(as_text=True)
    assert "This invoice is part of your payment plan." in invoice_page
    assert "Next: instalment 2" in invoice_page and "In plan" in invoice_page


def test_a_tampered_amount_a_later_instalment_or_anothers_plan_is_refused(app, client):
    debtor, other = create_debtor(), create_debtor()
    plan = active_plan(debtor, overdue(debtor, 30_000))
    theirs = active_plan(other, overdue(other, 60_000))
    first, second, _ = plan.instalments
    login_as(client, debtor)
    token = csrf_from(client.get("/pay", query_string={"instalment": first.id}).get_data(True))

    def start(**form):
        data = {"csrf_token": token, "method": "ideal"}
        return client.post("/pay", data={**data, **form})

    start(instalment=first.id, amount="1,00")
    start(instalment=second.id)  # the first comes first
    start(instalment=theirs.instalments[0].id)
    assert db.session.scalars(select(Payment)).all() == []
    assert client.get("/pay", query_string={"instalment": second.id}).status_code == 422
    other_page = client.get("/pay", query_string={"instalment": theirs.instalments[0].id})
    html = other_page.get_data(as_text=True)
    assert other_page.status_code == 422 and "€600.00" not in html and "€200.00" not in html


def test_money_paid_any_way_fills_the_instalments_oldest_first_and_completes_the_plan(app):
    debtor = create_debtor()
    invoice = overdue(debtor, 30_000)
    plan = active_plan(debtor, invoice)
    now = service.utcnow()
    payment = started(app, debtor, service.StartRequest([invoice.id], Method.IDEAL, None))
    pay(app, payment, cents=15_000)  # one and a half instalments, paid as a part payment
    assert [i.paid_cents for i in plan.instalments] == [10_000, 5_000, 0]

    invoice.open_cents = 0  # the rest paid by bank transfer, booked by an import
    invoice.status = "paid"
    daily(app, START)
    plan, invoice = db.session.get(InstalmentPlan, plan.id), db.session.get(Invoice, invoice.id)
    assert plan.status == "completed" and plan.ended_at is not None
    assert [i.open_cents for i in plan.instalments] == [0, 0, 0]
    assert invoice.hold_reason == "" and invoice.hold_until is None
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "plan.completed"))
    assert now <= plan.ended_at


def test_a_refund_makes_a_paid_instalment_open_again(app):
    debtor = create_debtor()
    invoice = overdue(debtor, 30_000)
    plan = active_plan(debtor, invoice)
    payment = started(
        app,
        debtor,
        service.StartRequest([], Method.IDEAL, None, instalment_id=plan.instalments[0].id),
    )
    pay(app, payment)
    assert plan.instalments[0].open_cents == 0
    truth = ProviderStatus(payment.provider_ref, Status.PAID, 10_000, "EUR", refunded_cents=10_000)
    service.apply_truth(db.session(), service.locked(db.session(), payment.id), truth, None)
    db.session.commit()
    assert plan.instalments[0].paid_cents == 0 and plan.instalments[0].paid_at is None


def test_reminders_come_before_and_after_a_due_date_once_each_with_the_instalments_link(
    app, client
):
    debtor = create_debtor(emails=["plan@example.com"])
    plan = active_plan(debtor, overdue(debtor, 30_000))
    first = plan.instalments[0]
    for offset in range(-6, 6):
        daily(app, START + dt.timedelta(days=offset))
    mails = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "instalment_due")
        .order_by(OutboxMessage.id)
    ).all()
    assert [m.dedupe_key for m in mails] == [
        f"instalment:{first.id}:before",
        f"instalment:{first.id}:after",
    ]
    before, after = mails
    assert "is due on" in before.subject and "not paid yet" in after.subject
    assert "€100.00" in before.body_text
    url = re.search(r"http://portal\.test(/p/\S+)", after.body_text)
    assert url is not None
    links = db.session.scalars(
        select(PayLink).where(PayLink.instalment_id == first.id).order_by(PayLink.id)
    ).all()
    assert [link.purpose for link in links] == ["instalment", "instalment"]  # one per mail
    link = links[-1]

    page = client.get(url.group(1))  # the pay-link asks just this instalment, no login
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Pay €100.00" in html
    response = client.post(url.group(1), data={"csrf_token": csrf_from(html), "method": "ideal"})
    assert response.status_code == 303
    payment = db.session.scalars(select(Payment)).one()
    assert (payment.amount_cents, payment.instalment_id, payment.pay_link_id) == (
        10_000,
        first.id,
        link.id,
    )
    pay(app, payment)
    again = client.get(url.group(1))
    assert again.status_code == 200 and "already" in again.get_data(as_text=True).lower()


def test_a_breach_ends_the_plan_tells_the_debtor_and_reminders_resume_after_the_gap(app, segment):
    debtor = create_debtor(segment_id=segment.id, emails=["late@example.com"])
    invoice = overdue(debtor, 30_000)
    with app.test_request_context():
        engine.run(db.session(), DUE + dt.timedelta(days=7), engine_mailer(app))
        db.session.commit()
    assert sent_kinds(invoice) == ["reminder"]  # one reminder before the plan
    plan = active_plan(debtor, invoice)
    first = plan.instalments[0]
    breach_day = START + dt.timedelta(days=14)  # the default policy: 14 days late

    daily(app, breach_day - dt.timedelta(days=1))
    assert db.session.get(InstalmentPlan, plan.id).status == "active"
    result = daily(app, breach_day)
    assert result.breached == 1
    plan = db.session.get(InstalmentPlan, plan.id)
    first, invoice = plan.instalments[0], db.session.get(Invoice, invoice.id)
    assert plan.status == "breached" and str(first.due_date) in plan.end_reason
    notice = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "plan_breached")
    ).one()
    assert notice.recipient == "late@example.com"
    assert "€300.00" in notice.body_text and invoice.number in notice.body_text
    assert re.search(r"http://portal\.test/p/\S+", notice.body_text)
    instalment_links = db.session.scalars(
        select(PayLink).where(PayLink.instalment_id == first.id)
    ).all()
    assert all(link.status == "revoked" for link in instalment_links)

    # the notice counts as a reminder: the schedule's 7-day gap runs from it
    assert invoice.hold_reason == "breach"
    for offset in range(0, 7):
        day = breach_day + dt.timedelta(days=offset)
        assert [d.invoice_id for d in engine.due_steps(db.session(), day)] == [], offset
    due = engine.due_steps(db.session(), breach_day + dt.timedelta(days=7))
    assert [d.invoice_id for d in due] == [invoice.id]
    # the step after the last one sent: the second reminder, not the first again
    step = db.session.get(ReminderStep, due[0].step_id)
    assert (step.kind, step.position) == ("reminder", 3)
    assert daily(app, breach_day + dt.timedelta(days=1)).breached == 0  # once


def test_a_breach_of_a_debtor_we_may_not_contact_sends_nothing(app):
    debtor = create_debtor(do_not_contact=True)
    plan = active_plan(debtor, overdue(debtor, 30_000))
    daily(app, START + dt.timedelta(days=20))
    assert db.session.get(InstalmentPlan, plan.id).status == "breached"
    assert db.session.scalars(select(OutboxMessage)).all() == []


def engine_mailer(app):
    from portal.mails import ReminderMails

    return ReminderMails(app.config["SETTINGS"])


def sent_kinds(invoice: Invoice) -> list[str]:
    return list(
        db.session.scalars(
            select(ReminderStep.kind)
            .join(InvoiceReminder, InvoiceReminder.step_id == ReminderStep.id)
            .where(InvoiceReminder.invoice_id == invoice.id)
        )
    )


def test_the_agreement_pdf_holds_what_was_agreed_and_only_for_its_debtor(app, client):
    import hashlib
    import io

    from pypdf import PdfReader

    debtor, other = create_debtor(name="Jansen Bouw"), create_debtor()
    invoice = overdue(debtor, 30_000, number="F-2026-77")
    plan = active_plan(debtor, invoice)
    login_as(client, debtor)
    detail = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert f"/plans/{plan.id}/agreement.pdf" in detail
    response = client.get(f"/plans/{plan.id}/agreement.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    text = " ".join(text.split())
    assert "Jansen Bouw" in text and "F-2026-77" in text and "I agree" in text
    assert "€300.00" in text and "€100.00" in text and "127.0.0.1" in text
    assert hashlib.sha256(b"I agree").hexdigest()[:16] in text.replace(" ", "")
    login_as(client, other)
    assert client.get(f"/plans/{plan.id}/agreement.pdf").status_code == 404


def test_a_failed_instalment_payment_gets_a_second_chance_for_that_instalment(app, client):
    from portal import runtime
    from portal.domain.payments import second_chance

    debtor = create_debtor(emails=["retry@example.com"])
    plan = active_plan(debtor, overdue(debtor, 30_000))
    payment = started(
        app,
        debtor,
        service.StartRequest([], Method.IDEAL, None, instalment_id=plan.instalments[0].id),
    )
    failed = ProviderStatus(payment.provider_ref, Status.FAILED, 10_000, "EUR")
    service.apply_truth(db.session(), service.locked(db.session(), payment.id), failed, None)
    db.session.commit()
    later = service.utcnow() + dt.timedelta(hours=2)
    with app.test_request_context():
        assert second_chance.send_due(db.session(), runtime.mails(), now=later) == 1
        db.session.commit()
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "second_chance")
    ).one()
    assert "Instalment 1 of 3" in mail.body_text and "€100.00" in mail.body_text
    assert "€300.00" not in mail.body_text
    url = re.search(r"http://portal\.test(/p/\S+)", mail.body_text).group(1)
    page = client.get(url).get_data(as_text=True)
    assert "Pay €100.00" in page


def test_the_dashboard_counts_running_and_recently_ended_plans(app, client):
    from tests.admin.test_admin import admin_login
    from tests.factories import create_admin

    late = create_debtor(do_not_contact=True)
    active_plan(late, overdue(late, 30_000))
    daily(app, START + dt.timedelta(days=20))  # breached
    running = create_debtor()
    active_plan(running, overdue(running, 30_000))
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    html = " ".join(client.get("/admin/").get_data(as_text=True).split())
    assert "Running: <strong>1</strong>" in html
    assert "Ended: an instalment was missed: <strong>1</strong>" in html
    assert 'href="/admin/plans?status=breached"' in html
