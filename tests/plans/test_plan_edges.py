"""Payment plans at their edges: a stale proposal, two clicks at once, a dispute during a
plan, money booked by an import, a policy changed later, a handed-over invoice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import db
from portal.domain.payments import selection as choosing
from portal.domain.payments import service
from portal.domain.plans import lifecycle, progress, proposals, schedules
from portal.models import InstalmentPlan, Invoice, PlanPolicy
from tests.conftest import login_as
from tests.factories import business_today, create_debtor, create_segment
from tests.plans.test_plan_admin import accept, fresh
from tests.plans.test_progress import START, active_plan, daily, overdue


class Quiet:
    """A notifier that writes nothing (the mails are tested elsewhere)."""

    def update(self, session, plan, note):
        return None


def proposed(debtor, invoice, start, count=3):
    day = min(start, business_today())
    draft = proposals.draft(
        db.session(), debtor, [invoice.id], start, schedules.MONTHLY, day, count=count
    )
    plan = lifecycle.offer(db.session(), draft, "boss@example.com", "admin:1", Quiet())
    db.session.commit()
    return plan


def test_a_proposal_whose_first_instalment_has_passed_is_refused_in_words(app, client):
    debtor = create_debtor()
    invoice = overdue(debtor, 30_000)
    stale = proposed(debtor, invoice, business_today() - dt.timedelta(days=40), count=1)
    login_as(client, debtor)
    response = accept(client, stale)
    assert response.status_code == 422  # not a 500, and not a plan breached at once
    assert "which has passed" in response.get_data(as_text=True)
    assert fresh(InstalmentPlan, stale.id).status == "proposed"
    assert fresh(Invoice, invoice.id).hold_reason == ""


def test_agreeing_twice_makes_one_plan_and_withdraws_the_other_proposals(app, client):
    debtor = create_debtor()
    invoice = overdue(debtor, 30_000)
    start = business_today() + dt.timedelta(days=3)
    first, second = proposed(debtor, invoice, start), proposed(debtor, invoice, start, count=2)
    login_as(client, debtor)
    assert accept(client, first).status_code == 303
    assert accept(client, first).status_code == 409  # a double click: no second agreement
    assert fresh(InstalmentPlan, first.id).status == "active"
    other = fresh(InstalmentPlan, second.id)
    assert (other.status, other.end_reason) == ("cancelled", f"superseded by plan #{first.id}")
    assert accept(client, other).status_code == 409


def test_a_breach_keeps_a_disputes_hold_and_a_settled_dispute_gives_the_plan_its_hold(app):
    from portal.domain import requests as req

    debtor = create_debtor()
    disputed, plain = overdue(debtor, 20_000), overdue(debtor, 10_000)
    plan = active_plan(debtor, disputed, plain)
    item = req.open_dispute(db.session(), disputed, "quality", "Broken", None, "t", START)
    db.session.commit()
    assert disputed.hold_reason == "dispute"

    class Mails:
        def update(self, session, request, text):
            return None

    req.decide_dispute(db.session(), item, "uphold", 0, "It was fine.", "admin", Mails(), START)
    db.session.commit()
    assert (disputed.hold_reason, disputed.hold_until) == ("plan", lifecycle.hold_until(plan))

    # the other invoice's first dispute (a second one of `disputed` would not pause by itself)
    req.open_dispute(db.session(), plain, "other", "Wrong", None, "t", START)
    db.session.commit()
    daily(app, START + dt.timedelta(days=20))  # the plan is breached while disputed
    assert db.session.get(InstalmentPlan, plan.id).status == "breached"
    assert db.session.get(Invoice, plain.id).hold_reason == "dispute"


def test_an_import_that_books_money_updates_the_instalments_at_once(app, client):
    from portal.domain.imports import engine as imports
    from tests.imports.test_import import csv_bytes

    debtor = create_debtor(number="K-1")
    invoice = overdue(debtor, 30_000, number="F-77")
    plan = active_plan(debtor, invoice)
    header = ["Factuurnummer", "Debiteurnummer", "Factuurdatum", "Vervaldatum", "Bedrag"]
    header.append("Openstaand")
    row = ["F-77", "K-1", invoice.invoice_date.isoformat(), invoice.due_date.isoformat()]
    row += ["300,00", "200,00"]  # 100 paid by bank transfer
    result = imports.preview(
        db.session(), csv_bytes([header, row]), brand=debtor.brand, filename="b.csv"
    )
    assert result.errors == [], result.errors
    imports.commit(db.session(), result, brand=debtor.brand, by="test")
    db.session.commit()
    plan = fresh(InstalmentPlan, plan.id)
    assert [i.paid_cents for i in plan.instalments] == [10_000, 0, 0]
    chosen = choosing.select_instalment(db.session(), debtor, plan.instalments[1].id)
    assert chosen.due_cents == 10_000  # the second now, not the first again


def test_a_policy_changed_later_does_not_move_a_running_plans_breach(app):
    segment = create_segment()
    db.session.add(PlanPolicy(segment_id=segment.id, breach_days=14))
    db.session.commit()
    debtor = create_debtor(segment_id=segment.id, do_not_contact=True)
    plan = active_plan(debtor, overdue(debtor, 30_000))
    assert plan.breach_days == 14
    db.session.scalars(select(PlanPolicy)).one().breach_days = 40
    db.session.commit()
    daily(app, START + dt.timedelta(days=14))
    assert db.session.get(InstalmentPlan, plan.id).status == "breached"


def test_a_handed_over_invoice_is_still_owed(app):
    debtor = create_debtor()
    invoice = overdue(debtor, 30_000)
    plan = active_plan(debtor, invoice)
    invoice.status = "handed_over"
    db.session.commit()
    progress.refresh(db.session(), plan, service.utcnow())
    assert plan.status == "active" and [i.paid_cents for i in plan.instalments] == [0, 0, 0]


def test_a_proposal_not_agreed_by_its_first_due_date_expires(app):
    debtor = create_debtor()
    start = business_today() + dt.timedelta(days=5)
    proposal = proposed(debtor, overdue(debtor, 30_000), start)
    assert daily(app, start).expired == 0  # the day itself can still be agreed
    assert fresh(InstalmentPlan, proposal.id).status == "proposed"
    assert daily(app, start + dt.timedelta(days=1)).expired == 1
    plan = fresh(InstalmentPlan, proposal.id)
    assert (plan.status, plan.end_reason) == ("cancelled", "not agreed before the first due date")
