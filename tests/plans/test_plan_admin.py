"""Plans that a person arranges: the policy editor, a plan proposed from a plan request
or for a debtor, the debtor's accept or decline, change and cancel, and who may do what."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain.clock import today
from portal.domain.dunning import engine
from portal.domain.plans import lifecycle, proposals, schedules
from portal.domain.states import IllegalTransition
from portal.models import (
    AuditEvent,
    DebtorRequest,
    InstalmentPlan,
    Invoice,
    OutboxMessage,
    PlanPolicy,
    PlanStatus,
)
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import csrf, english_client, login_as
from tests.dunning.test_engine import DUE
from tests.factories import create_admin, create_debtor, create_invoice, create_segment


def _today(app):
    return today(app.config["SETTINGS"].portal_timezone)


def due_ids(day):
    return {d.invoice_id for d in engine.due_steps(db.session(), day)}


def overdue(debtor, **kw):
    return create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE, **kw)


def staff_client(app, role="clerk", email=None):
    client = english_client(app)
    email = email or f"{role}{id(client)}@example.com"
    create_admin(email, role=role)
    admin_login(client, email)
    return client


def plan_request(app, debtor, invoice, count=8):
    """A plan request as the debtor's form sends it for review (outside the policy)."""
    day = _today(app)
    proposal = proposals.propose(
        db.session(), debtor, [invoice.id], day, schedules.MONTHLY, day, count=count
    )
    assert proposal.problems  # 8 instalments: more than the default policy allows
    item = lifecycle.ask_review(
        db.session(), debtor, proposal, "Can I pay in 8 months?", f"debtor:{debtor.id}"
    )
    db.session.commit()
    return item


def active_plan(app, debtor, invoice, count=3):
    day = _today(app)
    proposal = proposals.propose(
        db.session(), debtor, [invoice.id], day, schedules.MONTHLY, day, count=count
    )
    plan = lifecycle.accept(
        db.session(), proposal, "I agree", "127.0.0.1", f"debtor:{debtor.id}", day
    )
    db.session.commit()
    return plan


def propose_form(client, path, app, **values):
    data = {
        "csrf_token": page_csrf(client, path),
        "count": "3",
        "per_instalment": "",
        "start": _today(app).isoformat(),
        "frequency": "monthly",
        "down_payment_pct": "0",
        "note": "As agreed on the phone.",
        "action": "propose",
    }
    data.update(values)
    return client.post(path, data=data)


def accept(client, plan, agree=True):
    data = {"csrf_token": csrf(client, f"/plans/{plan.id}")}
    if agree:
        data["agree"] = "y"
    return client.post(f"/plans/{plan.id}/accept", data=data)


def fresh(model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


# ------------------------------------------------------------------------ policy editor
def test_the_policy_editor_saves_and_refuses_bad_input_in_place(app):
    segment = create_segment()
    boss = staff_client(app, role="admin")
    path = f"/admin/segments/{segment.id}/plan-policy"
    assert path in boss.get("/admin/segments").get_data(as_text=True)
    page = boss.get(path).get_data(as_text=True)
    assert 'value="100,00"' in page and "uses the default rules" in page
    bad = {
        "csrf_token": page_csrf(boss, path),
        "min_total": "lots",
        "max_instalments": "0",
        "min_instalment": "0",
        "max_days": "180",
        "down_payment_pct": "95",
        "breach_days": "14",
    }
    response = boss.post(path, data=bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter an amount like 50,00." in html
    assert "Enter a number from 1 to 120." in html
    assert "Enter a number from 0 to 90." in html
    assert "Offer at least one frequency." in html
    assert "The smallest instalment is more than zero." in html
    assert 'aria-invalid="true"' in html
    assert db.session.scalars(select(PlanPolicy)).all() == []

    good = {
        **bad,
        "min_total": "250,00",
        "max_instalments": "4",
        "min_instalment": "50",
        "down_payment_pct": "25",
        "frequencies": ["biweekly"],
        "breach_days": "10",
        "auto_approve": "y",
    }
    response = boss.post(path, data=good)
    assert response.status_code == 303
    row = db.session.scalars(select(PlanPolicy)).one()
    assert (
        row.segment_id,
        row.min_total_cents,
        row.max_instalments,
        row.min_instalment_cents,
        row.down_payment_pct,
        row.frequencies,
        row.breach_days,
        row.auto_approve,
    ) == (segment.id, 25_000, 4, 5_000, 25, "biweekly", 10, True)
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "admin.plan_policy_saved")
    ).one()
    assert event.details["down_payment_pct"] == 25
    assert 'value="250,00"' in boss.get(path).get_data(as_text=True)


def test_a_clerk_may_not_edit_the_policy_and_csrf_is_required(app):
    segment = create_segment()
    clerk = staff_client(app)
    assert clerk.get(f"/admin/segments/{segment.id}/plan-policy").status_code == 403
    boss = staff_client(app, role="admin")
    response = boss.post(
        f"/admin/segments/{segment.id}/plan-policy",
        data={"min_total": "1", "max_instalments": "2", "frequencies": ["monthly"]},
    )
    assert response.status_code == 400
    assert db.session.scalars(select(PlanPolicy)).all() == []


# ------------------------------------------------------ propose from a request, accept
def test_a_plan_proposed_from_a_request_is_accepted_and_holds_reminders(app, segment):
    debtor = create_debtor(segment_id=segment.id, emails=["piet@example.com"])
    invoice = overdue(debtor, total_cents=40_000)
    day = _today(app)
    assert invoice.id in due_ids(day)
    item = plan_request(app, debtor, invoice)

    clerk = staff_client(app)
    detail = clerk.get(f"/admin/requests/{item.id}").get_data(as_text=True)
    assert f'action="/admin/requests/{item.id}/plan"' in detail  # the form, prefilled
    assert 'name="count"' in detail and 'value="8"' in detail
    form_page = clerk.get(f"/admin/requests/{item.id}/plan").get_data(as_text=True)
    assert 'name="count"' in form_page and 'value="8"' in form_page  # prefilled
    assert f'name="invoice" value="{invoice.id}" checked' in form_page
    chosen = [str(invoice.id)]
    path = f"/admin/requests/{item.id}/plan"
    preview = propose_form(clerk, path, app, action="preview", invoice=chosen, count="8")
    assert preview.status_code == 200
    assert "Outside the segment's policy" in preview.get_data(as_text=True)
    assert db.session.scalars(select(InstalmentPlan)).all() == []

    response = propose_form(clerk, path, app, count="4", invoice=chosen)
    assert response.status_code == 303
    plan = db.session.scalars(select(InstalmentPlan)).one()
    assert response.headers["Location"] == f"/admin/plans/{plan.id}"
    assert (plan.status, plan.request_id, plan.accepted_at) == ("proposed", item.id, None)
    assert plan.proposed_by.startswith("clerk")
    assert [i.cents for i in plan.instalments] == [10_000] * 4
    assert fresh(DebtorRequest, item.id).state == "answered"
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "plan_update")
    ).one()
    assert mail.dedupe_key == f"plan:{plan.id}:proposed"
    assert "As agreed on the phone." in mail.body_text
    assert f"/plans/{plan.id}" in mail.body_text and "€100.00" in mail.body_text
    assert invoice.id in due_ids(day)  # a proposal holds nothing yet
    admin_page = clerk.get(f"/admin/plans/{plan.id}").get_data(as_text=True)
    assert "Payment plan proposed" in admin_page and invoice.number in admin_page

    client = english_client(app)
    login_as(client, debtor)
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "I agree to this payment plan." in page and "Decline this proposal" in page
    assert "I agree to pay €400.00" in page
    refused = accept(client, plan, agree=False)
    assert refused.status_code == 422
    assert "Tick the box to agree to the plan." in refused.get_data(as_text=True)
    assert fresh(InstalmentPlan, plan.id).status == "proposed"

    assert accept(client, plan).status_code == 303
    plan = fresh(InstalmentPlan, plan.id)
    assert plan.status == "active" and plan.accepted_at is not None
    assert plan.accepted_ip == "127.0.0.1" and invoice.number in plan.agreement_text
    assert fresh(Invoice, invoice.id).hold_reason == "plan"
    assert invoice.id not in due_ids(day)
    assert accept(client, plan).status_code == 409  # agreed once only


def test_the_debtor_may_decline_a_proposal(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue(debtor, total_cents=40_000)
    clerk = staff_client(app)
    path = f"/admin/debtors/{debtor.id}/plan"
    assert propose_form(clerk, path, app, invoice=[str(invoice.id)]).status_code == 303
    plan = db.session.scalars(select(InstalmentPlan)).one()
    assert (plan.status, plan.request_id) == ("proposed", None)
    client = english_client(app)
    login_as(client, debtor)
    response = client.post(
        f"/plans/{plan.id}/decline", data={"csrf_token": csrf(client, f"/plans/{plan.id}")}
    )
    assert response.status_code == 303
    plan = fresh(InstalmentPlan, plan.id)
    assert plan.status == "cancelled" and plan.end_reason == "declined by the debtor"
    assert invoice.id in due_ids(_today(app))  # reminders go on as before
    assert accept(client, plan).status_code == 409  # a declined proposal stays declined


def test_another_debtor_gets_404_and_csrf_is_required(app, segment):
    debtor, other = create_debtor(segment_id=segment.id), create_debtor(segment_id=segment.id)
    invoice = overdue(debtor, total_cents=40_000)
    clerk = staff_client(app)
    propose_form(clerk, f"/admin/debtors/{debtor.id}/plan", app, invoice=[str(invoice.id)])
    plan = db.session.scalars(select(InstalmentPlan)).one()
    intruder = english_client(app)
    login_as(intruder, other)
    token = csrf(intruder, "/plans/new")
    assert intruder.get(f"/plans/{plan.id}").status_code == 404
    for action in ("accept", "decline"):
        response = intruder.post(
            f"/plans/{plan.id}/{action}", data={"csrf_token": token, "agree": "y"}
        )
        assert response.status_code == 404
    assert fresh(InstalmentPlan, plan.id).status == "proposed"

    client = english_client(app)
    login_as(client, debtor)
    assert client.post(f"/plans/{plan.id}/accept", data={"agree": "y"}).status_code == 400
    assert client.post(f"/plans/{plan.id}/decline").status_code == 400
    response = clerk.post(f"/admin/plans/{plan.id}/cancel", data={"reason": "No"})
    assert response.status_code == 400
    assert fresh(InstalmentPlan, plan.id).status == "proposed"


def test_a_proposal_over_an_invoice_paid_since_is_refused_clearly(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue(debtor, total_cents=40_000)
    clerk = staff_client(app)
    propose_form(clerk, f"/admin/debtors/{debtor.id}/plan", app, invoice=[str(invoice.id)])
    plan = db.session.scalars(select(InstalmentPlan)).one()
    paid = db.session.get(Invoice, invoice.id)
    paid.open_cents, paid.status = 0, "paid"
    db.session.commit()
    client = english_client(app)
    login_as(client, debtor)
    response = accept(client, plan)
    assert response.status_code == 422
    assert f"Invoice {invoice.number} is no longer open" in response.get_data(as_text=True)
    assert fresh(InstalmentPlan, plan.id).status == "proposed"


# ------------------------------------------------------------------- change and cancel
def test_a_changed_plan_replaces_the_old_one_once_accepted(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue(debtor, total_cents=30_000)
    old_id = active_plan(app, debtor, invoice).id
    clerk = staff_client(app)
    assert "Change plan" in clerk.get(f"/admin/plans/{old_id}").get_data(as_text=True)
    response = propose_form(clerk, f"/admin/plans/{old_id}/change", app, count="6")
    assert response.status_code == 303
    new = db.session.scalars(
        select(InstalmentPlan).where(InstalmentPlan.replaces_id == old_id)
    ).one()
    assert (new.status, new.total_cents, len(new.instalments)) == ("proposed", 30_000, 6)
    new_id = new.id
    assert fresh(InstalmentPlan, old_id).status == "active"  # until the debtor agrees

    client = english_client(app)
    login_as(client, debtor)
    assert "replaces my earlier payment plan" in client.get(f"/plans/{new_id}").get_data(
        as_text=True
    )
    assert accept(client, fresh(InstalmentPlan, new_id)).status_code == 303
    assert fresh(InstalmentPlan, new_id).status == "active"
    old = fresh(InstalmentPlan, old_id)
    assert old.status == "cancelled" and old.end_reason == f"replaced by plan #{new_id}"
    assert fresh(Invoice, invoice.id).hold_reason == "plan"
    assert invoice.id not in due_ids(_today(app))


def test_cancelling_an_active_plan_asks_a_reason_and_resumes_reminders(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue(debtor, total_cents=30_000)
    plan = active_plan(app, debtor, invoice)
    day = _today(app)
    assert invoice.id not in due_ids(day)
    clerk = staff_client(app)
    path = f"/admin/plans/{plan.id}/cancel"
    page = clerk.get(path).get_data(as_text=True)
    assert "Yes, cancel the plan" in page and "Reminders for its invoices resume" in page
    empty = clerk.post(path, data={"csrf_token": page_csrf(clerk, path), "reason": " "})
    assert empty.status_code == 422
    assert "Give the reason for cancelling." in empty.get_data(as_text=True)
    assert fresh(InstalmentPlan, plan.id).status == "active"

    response = clerk.post(
        path, data={"csrf_token": page_csrf(clerk, path), "reason": "Two instalments missed."}
    )
    assert response.status_code == 303
    plan = fresh(InstalmentPlan, plan.id)
    assert (plan.status, plan.end_reason) == ("cancelled", "Two instalments missed.")
    assert fresh(Invoice, invoice.id).hold_reason == ""
    assert invoice.id in due_ids(day)
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "plan_update")
    ).one()
    assert mail.dedupe_key == f"plan:{plan.id}:cancelled"
    assert "Two instalments missed." in mail.body_text and "Cancelled" in mail.body_text
    assert clerk.get(path).status_code == 409


def test_cancelling_keeps_a_hold_that_is_not_the_plans(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue(debtor, total_cents=30_000)
    plan = active_plan(app, debtor, invoice)
    held = db.session.get(Invoice, invoice.id)
    held.hold_reason = "paused"
    db.session.commit()
    resumed = lifecycle.cancel(
        db.session(),
        plan,
        "wrong plan",
        "admin:1",
        dt.datetime.now(dt.UTC),
        type("Quiet", (), {"update": lambda *a: None})(),
    )
    assert resumed == [] and held.hold_reason == "paused"


# -------------------------------------------------------------------- illegal moves
def test_illegal_plan_moves_raise(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue(debtor, total_cents=30_000)
    plan = active_plan(app, debtor, invoice)
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(IllegalTransition):
        lifecycle.accept(db.session(), plan, "again", "", "debtor", _today(app), now)
    with pytest.raises(IllegalTransition):
        lifecycle.decline(db.session(), plan, "debtor", now)
    lifecycle.move(plan, PlanStatus.COMPLETED, now, "paid")
    with pytest.raises(IllegalTransition):
        lifecycle.move(plan, PlanStatus.ACTIVE, now)
    with pytest.raises(IllegalTransition):
        proposals.change(db.session(), plan, _today(app), _today(app), schedules.MONTHLY, count=2)
    db.session.commit()
    clerk = staff_client(app)
    assert clerk.get(f"/admin/plans/{plan.id}/change").status_code == 409
    assert clerk.get(f"/admin/plans/{plan.id}/cancel").status_code == 409


# ------------------------------------------------------------------------ the list
def test_the_plan_list_filters_by_status_newest_first_in_pages_of_50(app):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=30_000)
    for n in range(51):
        plan = InstalmentPlan(
            debtor_id=debtor.id,
            status="cancelled" if n == 0 else "proposed",
            frequency="monthly",
            total_cents=1_000 + n,
            accepted_at=None,
        )
        plan.instalments = []
        db.session.add(plan)
    db.session.commit()
    ids = db.session.scalars(select(InstalmentPlan.id).order_by(InstalmentPlan.id)).all()
    clerk = staff_client(app)
    first = clerk.get("/admin/plans").get_data(as_text=True)
    assert "51 plans" in first and "Page 1 of 2" in first
    assert first.index(f'/admin/plans/{ids[-1]}"') < first.index(f'/admin/plans/{ids[-2]}"')
    assert f'/admin/plans/{ids[0]}"' not in first
    assert f'/admin/plans/{ids[0]}"' in clerk.get("/admin/plans?page=2").get_data(as_text=True)
    cancelled = clerk.get("/admin/plans?status=cancelled").get_data(as_text=True)
    assert "1 plan" in cancelled and f'/admin/plans/{ids[0]}"' in cancelled
    assert f'/admin/plans/{ids[1]}"' not in cancelled
    assert invoice.number  # the invoice only gives the debtor something open
