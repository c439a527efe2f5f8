"""Payment plans in the database: the segment's policy, proposals over the debtor's own
invoices, and a recorded plan that holds reminders."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain.dunning import engine
from portal.domain.plans import lifecycle, listing, proposals, schedules
from portal.models import AuditEvent, Instalment, InstalmentPlan, Invoice, PlanPolicy
from tests.dunning.test_engine import DUE
from tests.factories import create_debtor, create_invoice, create_segment

TODAY = DUE + dt.timedelta(days=30)


def overdue(debtor, **kw):
    return create_invoice(debtor, invoice_date=DUE - dt.timedelta(days=14), due_date=DUE, **kw)


def test_a_segment_without_a_policy_gets_the_defaults(app):
    assert proposals.policy_for(db.session(), None) == schedules.DEFAULT_POLICY
    segment = create_segment()
    assert proposals.policy_for(db.session(), segment.id) == schedules.Policy(
        min_total_cents=10_000,
        max_instalments=6,
        min_instalment_cents=2_500,
        max_days=180,
        auto_approve=True,
    )
    db.session.add(
        PlanPolicy(
            segment_id=segment.id,
            min_total_cents=50_000,
            max_instalments=3,
            min_instalment_cents=10_000,
            max_days=60,
            auto_approve=False,
        )
    )
    db.session.commit()
    policy = proposals.policy_for(db.session(), segment.id)
    assert (policy.max_instalments, policy.auto_approve) == (3, False)


def test_another_debtors_invoice_is_never_part_of_a_proposal(app):
    mine, theirs = create_debtor(), create_debtor()
    own = overdue(mine, total_cents=30_000)
    other = overdue(theirs, total_cents=90_000)
    proposal = proposals.propose(
        db.session(), mine, [own.id, other.id], TODAY, schedules.MONTHLY, TODAY, count=3
    )
    assert [i.id for i in proposal.invoices] == [own.id]
    assert proposal.total_cents == 30_000
    assert proposal.can_accept
    nothing = proposals.propose(
        db.session(), mine, [other.id], TODAY, schedules.MONTHLY, TODAY, count=3
    )
    assert nothing.invoices == [] and not nothing.within_policy


def test_outside_the_policy_the_plan_is_refused(app):
    debtor = create_debtor()
    invoice = overdue(debtor, total_cents=30_000)
    proposal = proposals.propose(
        db.session(), debtor, [invoice.id], TODAY, schedules.MONTHLY, TODAY, count=12
    )
    assert not proposal.within_policy
    assert [p.msgid for p in proposal.problems] == [
        "A payment plan has at most %(count)d instalments.",
        "A payment plan must be paid within %(days)d days.",
    ]
    with pytest.raises(lifecycle.PlanRefused):
        lifecycle.accept(db.session(), proposal, "text", "127.0.0.1", "debtor:1", TODAY)
    assert db.session.scalars(select(InstalmentPlan)).all() == []


def test_an_accepted_plan_is_recorded_and_holds_reminders(app, segment):
    debtor = create_debtor(segment_id=segment.id)
    first, second = overdue(debtor, total_cents=20_000), overdue(debtor, total_cents=10_001)
    assert {first.id, second.id} <= {d.invoice_id for d in engine.due_steps(db.session(), TODAY)}
    proposal = proposals.propose(
        db.session(), debtor, [first.id, second.id], TODAY, schedules.BIWEEKLY, TODAY,
        per_instalment_cents=10_000,
    )  # fmt: skip
    assert [c for _, c in proposal.schedule] == [10_000, 10_000, 10_000, 1]
    assert [p.msgid for p in proposal.problems] == ["Each instalment must be at least %(amount)s."]
    proposal = proposals.propose(
        db.session(), debtor, [first.id, second.id], TODAY, schedules.MONTHLY, TODAY, count=3
    )
    plan = lifecycle.accept(
        db.session(), proposal, "I agree.", "203.0.113.9", f"debtor:{debtor.id}", TODAY
    )
    db.session.commit()
    stored = db.session.get(InstalmentPlan, plan.id)
    assert stored.total_cents == 30_001 and stored.agreement_text == "I agree."
    assert stored.accepted_ip == "203.0.113.9" and stored.accepted_at is not None
    rows = db.session.scalars(select(Instalment).order_by(Instalment.seq)).all()
    assert [(r.seq, r.due_date, r.cents) for r in rows] == [
        (1, TODAY, 10_000),
        (2, TODAY + dt.timedelta(days=30), 10_000),
        (3, TODAY + dt.timedelta(days=61), 10_001),
    ]
    last_due = TODAY + dt.timedelta(days=61)
    for invoice_id in (first.id, second.id):
        held = db.session.get(Invoice, invoice_id)
        assert held.hold_reason == "plan" and held.hold_until == last_due + dt.timedelta(days=14)
    assert not {first.id, second.id} & {d.invoice_id for d in engine.due_steps(db.session(), TODAY)}
    # still open two weeks after the last instalment was due: back to the reminders
    after = last_due + dt.timedelta(days=15)
    assert {first.id, second.id} <= {d.invoice_id for d in engine.due_steps(db.session(), after)}
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan.accepted")).one()
    # invoices in an active plan cannot go into a second one
    assert proposals.eligible_invoices(db.session(), debtor.id) == []
    assert listing.get_plan(db.session(), debtor.id, plan.id) is stored
    assert listing.get_plan(db.session(), create_debtor().id, plan.id) is None


def test_the_policy_offers_frequencies_and_asks_a_down_payment(app):
    segment = create_segment()
    db.session.add(
        PlanPolicy(
            segment_id=segment.id,
            min_total_cents=10_000,
            max_instalments=6,
            min_instalment_cents=2_500,
            max_days=180,
            down_payment_pct=20,
            frequencies="monthly",
        )
    )
    db.session.commit()
    debtor = create_debtor(segment_id=segment.id)
    invoice = overdue(debtor, total_cents=30_000)
    proposal = proposals.propose(
        db.session(), debtor, [invoice.id], TODAY, schedules.MONTHLY, TODAY, count=3
    )
    assert [c for _, c in proposal.schedule] == [6_000, 12_000, 12_000]
    assert proposal.can_accept
    biweekly = proposals.propose(
        db.session(), debtor, [invoice.id], TODAY, schedules.BIWEEKLY, TODAY, count=3
    )
    assert [str(p) for p in biweekly.problems] == ["Instalments can only be paid every month."]
    assert not biweekly.can_accept
    weekly = proposals.propose(db.session(), debtor, [invoice.id], TODAY, "weekly", TODAY, count=3)
    assert [str(p) for p in weekly.problems] == ["Choose how often from the list."]
