"""The debtor's payment plan pages: live preview, the policy's reasons, agreeing, and
who may see what."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import db
from portal.domain.clock import today
from portal.models import Instalment, InstalmentPlan, Invoice, OutboxMessage
from tests.conftest import csrf, english_client, login_as
from tests.factories import create_debtor, create_invoice


def _today(app):
    return today(app.config["SETTINGS"].portal_timezone)


def form(client, invoices, **values):
    data = {
        "csrf_token": csrf(client, "/plans/new"),
        "invoice": [str(i.id) for i in invoices],
        "count": "3",
        "per_instalment": "",
        "start": values.pop("start").isoformat(),
        "frequency": "monthly",
    }
    data.update(values)
    return data


def test_the_preview_shows_the_schedule_of_own_invoices_only(app):
    client = english_client(app)
    debtor, other = create_debtor(), create_debtor()
    mine = create_invoice(debtor, total_cents=30_000)
    theirs = create_invoice(other, total_cents=70_000, number="SECRET-1")
    login_as(client, debtor)
    assert 'href="/plans/new"' in client.get("/invoices").get_data(as_text=True)
    page = client.get("/plans/new").get_data(as_text=True)
    assert mine.number in page and "SECRET-1" not in page
    assert 'hx-post="/plans/preview"' in page and "csrf_token" in page
    day = _today(app)
    response = client.post(
        "/plans/preview",
        data=form(client, [mine, theirs], start=day),
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert "€\xa0100,00" in html or "€ 100,00" in html or "€100.00" in html
    assert "Total €300.00" in html or "300" in html
    assert "700" not in html  # the other debtor's invoice never counts
    assert 'value="accept"' in html


def test_outside_the_policy_the_page_says_why_and_offers_no_agreement(app):
    client = english_client(app)
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=5_000)
    login_as(client, debtor)
    response = client.post("/plans/new", data=form(client, [invoice], start=_today(app)))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "A payment plan is possible from a total of € 100,00." in html
    assert "Each instalment must be at least € 25,00." in html
    assert 'value="accept"' not in html
    assert 'value="review"' in html
    assert db.session.scalars(select(InstalmentPlan)).all() == []


def test_agreeing_records_the_plan_and_holds_reminders(app):
    client = english_client(app)
    debtor = create_debtor()
    first = create_invoice(debtor, total_cents=20_000)
    second = create_invoice(debtor, total_cents=10_000)
    login_as(client, debtor)
    day = _today(app)
    unticked = client.post(
        "/plans/new", data=form(client, [first, second], start=day, action="accept")
    )
    assert unticked.status_code == 422
    assert "Tick the box to agree to the plan." in unticked.get_data(as_text=True)
    assert db.session.scalars(select(InstalmentPlan)).all() == []

    response = client.post(
        "/plans/new",
        data=form(client, [first, second], start=day, action="accept", agree="y"),
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert response.status_code == 303
    plan = db.session.scalars(select(InstalmentPlan)).one()
    assert response.headers["Location"].endswith(f"/plans/{plan.id}")
    assert plan.debtor_id == debtor.id and plan.total_cents == 30_000
    assert plan.accepted_ip == "198.51.100.7"
    assert "in 3 instalments" in plan.agreement_text
    rows = db.session.scalars(select(Instalment).order_by(Instalment.seq)).all()
    assert [r.cents for r in rows] == [10_000, 10_000, 10_000]
    assert rows[0].due_date == day
    db.session.expire_all()
    assert {db.session.get(Invoice, i.id).hold_reason for i in (first, second)} == {"plan"}
    confirmation = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "plan_update")
    ).one()  # the schedule by mail, to keep
    assert confirmation.recipient == debtor.primary_email
    assert "your payment plan is agreed" in confirmation.body_text
    assert "€100.00" in confirmation.body_text

    detail = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert first.number in detail and second.number in detail
    listing = client.get("/requests").get_data(as_text=True)
    assert f"/plans/{plan.id}" in listing
    # the invoices are in a plan now: they cannot go into another one
    assert first.number not in client.get("/plans/new").get_data(as_text=True)


def test_another_debtors_plan_is_a_404(app):
    client = english_client(app)
    owner, stranger = create_debtor(), create_debtor()
    invoice = create_invoice(owner, total_cents=30_000)
    login_as(client, owner)
    day = _today(app)
    client.post("/plans/new", data=form(client, [invoice], start=day, action="accept", agree="y"))
    plan = db.session.scalars(select(InstalmentPlan)).one()
    other = english_client(app)
    login_as(other, stranger)
    assert other.get(f"/plans/{plan.id}").status_code == 404
    assert f"/plans/{plan.id}" not in other.get("/requests").get_data(as_text=True)
    # posting the owner's invoice id makes no plan for the stranger
    response = other.post(
        "/plans/new",
        data=form(other, [invoice], start=day, action="accept", agree="y"),
    )
    assert response.status_code == 422
    assert len(db.session.scalars(select(InstalmentPlan)).all()) == 1


def test_a_start_in_the_past_is_refused(app):
    client = english_client(app)
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=30_000)
    login_as(client, debtor)
    past = _today(app) - dt.timedelta(days=1)
    response = client.post("/plans/new", data=form(client, [invoice], start=past))
    assert response.status_code == 422
    assert "The first instalment cannot fall in the past." in response.get_data(as_text=True)


def test_a_plan_outside_the_policy_goes_to_the_admin_inbox(app):
    from portal.models import DebtorRequest

    client = english_client(app)
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=30_000)
    login_as(client, debtor)
    day = _today(app)
    preview = client.post(
        "/plans/preview", data=form(client, [invoice], start=day, count="12"),
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)  # fmt: skip
    assert 'value="review"' in preview and 'value="accept"' not in preview
    response = client.post(
        "/plans/new",
        data=form(client, [invoice], start=day, count="12", action="review", message="Job lost"),
    )
    assert response.status_code == 303
    item = db.session.scalars(select(DebtorRequest)).one()
    assert (item.kind, item.state, item.debtor_id) == ("plan", "open", debtor.id)
    assert item.message == "Job lost" and item.details["total_cents"] == 30_000
    assert len(item.details["schedule"]) == 12
    assert db.session.scalars(select(InstalmentPlan)).all() == []
    assert "Payment plan" in client.get("/requests").get_data(as_text=True)


def test_the_form_offers_only_the_policys_frequencies_and_shows_the_down_payment(app):
    from portal.models import PlanPolicy
    from tests.factories import create_segment

    segment = create_segment()
    db.session.add(
        PlanPolicy(
            segment_id=segment.id,
            min_total_cents=10_000,
            max_instalments=6,
            min_instalment_cents=2_500,
            max_days=180,
            down_payment_pct=20,
            frequencies="biweekly",
        )
    )
    db.session.commit()
    client = english_client(app)
    debtor = create_debtor(segment_id=segment.id)
    invoice = create_invoice(debtor, total_cents=30_000)
    login_as(client, debtor)
    page = client.get("/plans/new").get_data(as_text=True)
    assert 'value="biweekly"' in page and 'value="monthly"' not in page
    response = client.post(
        "/plans/preview",
        data=form(client, [invoice], start=_today(app), frequency="biweekly"),
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert "down payment" in html and "20% of the total" in html
    assert "€60.00" in html and "€120.00" in html
