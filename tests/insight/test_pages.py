"""The insight pages: they read what the worker prepared, drill down to the invoices
behind a figure, download the figures, and apply a rating rule."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from portal.db import db
from portal.domain import audit
from portal.domain.insight import refresh
from portal.models import AdminUser, AuditEvent, Debtor, DebtorRating, Invoice, RatingRule
from tests.admin.test_admin import admin_login, page_csrf
from tests.factories import (
    business_today,
    create_admin,
    create_brand,
    create_debtor,
    create_invoice,
    create_segment,
)

TODAY = business_today()
TZ = "Europe/Amsterdam"


def _paid(debtor, due: dt.date, late: int, cents: int = 10_000) -> None:
    """A paid invoice and the payment on its timeline (committed by the caller)."""
    invoice = Invoice(
        brand_id=debtor.brand_id,
        debtor_id=debtor.id,
        number=f"P-{debtor.id}-{due.isoformat()}",
        invoice_date=due - dt.timedelta(days=14),
        due_date=due,
        total_cents=cents,
        open_cents=0,
        status="paid",
    )
    db.session.add(invoice)
    db.session.flush()
    audit.record(
        db.session(), "system", "payment.received", invoice_id=invoice.id
    ).at = dt.datetime.combine(due + dt.timedelta(days=late), dt.time(10), tzinfo=dt.UTC)


@pytest.fixture
def book(app):
    """Two debtors of one brand: a prompt payer and a poor one, with open invoices in
    three ageing buckets; the figures computed."""
    brand = create_brand(name="Zonnestroom")
    consumers = create_segment(name="Consumers")
    prompt = create_debtor(brand, name="Anna Prompt", segment_id=consumers.id)
    poor = create_debtor(brand, name="Piet Poor", segment_id=consumers.id)
    for months in range(2, 14):
        _paid(prompt, TODAY - dt.timedelta(days=30 * months), -1)
        _paid(poor, TODAY - dt.timedelta(days=30 * months), 50)
    db.session.commit()
    invoices = {
        "not_due": create_invoice(
            prompt,
            number="N-1",
            invoice_date=TODAY - dt.timedelta(days=4),
            due_date=TODAY,  # due today: not due yet
            total_cents=11_000,
            open_cents=11_000,
        ),
        "30": create_invoice(
            poor,
            number="L-30",
            invoice_date=TODAY - dt.timedelta(days=44),
            due_date=TODAY - dt.timedelta(days=30),  # 30 days overdue: 1-30
            total_cents=30_000,
            open_cents=30_000,
        ),
        "31": create_invoice(
            poor,
            number="L-31",
            invoice_date=TODAY - dt.timedelta(days=45),
            due_date=TODAY - dt.timedelta(days=31),  # 31 days overdue: 31-60
            total_cents=31_000,
            open_cents=31_000,
        ),
    }
    refresh.run(db.session(), TODAY, TZ)
    return {
        "prompt": prompt.id,
        "poor": poor.id,
        "brand": brand.id,
        "segment": consumers.id,
        "invoices": {k: i.id for k, i in invoices.items()},
    }


@pytest.fixture
def boss(client):
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    return client


def test_without_figures_the_page_offers_to_compute_them(boss):
    html = boss.get("/admin/insight").get_data(as_text=True)
    assert "The figures are not computed yet" in html
    token = page_csrf(boss, "/admin/insight")
    response = boss.post("/admin/insight/refresh", data={"csrf_token": token})
    assert response.status_code == 303  # the worker (inline in tests) computed them
    assert "DSO over the last 12 months" in boss.get("/admin/insight").get_data(as_text=True)


def test_the_overview_shows_dso_ageing_and_the_top_debtors(book, boss):
    html = boss.get("/admin/insight").get_data(as_text=True)
    assert "DSO over the last 12 months" in html
    assert '<svg class="chart"' in html and "<polyline" in html
    assert "Piet Poor" in html  # the top overdue debtor
    assert "Poor payer" in html and "Good payer" not in html.split("Piet Poor")[0][-500:]
    # the ageing table: 30 days overdue is 1-30, 31 days is 31-60; due today is not due
    assert "€300.00" in html and "€310.00" in html and "€110.00" in html
    assert "script" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # CSP: none inline
    assert "style=" not in html


def test_an_ageing_figure_drills_down_to_its_invoices(book, boss):
    expected = [{"N-1"}, {"L-30"}, {"L-31"}, set(), set()]
    for bucket, numbers in enumerate(expected):
        response = boss.get(
            f"/admin/insight/invoices?group=all&bucket={bucket}", headers={"HX-Request": "true"}
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "<html" not in html  # the partial alone
        assert "HX-Request" in response.headers.get("Vary", "")
        found = {n for n in ("N-1", "L-30", "L-31") if f">{n}<" in html}
        assert found == numbers, bucket


def test_a_drill_down_by_brand_segment_and_debtor(book, boss):
    brand, segment, poor = book["brand"], book["segment"], book["poor"]
    for group in (f"brand:{brand}", f"segment:{segment}", f"debtor:{poor}"):
        html = boss.get(f"/admin/insight/invoices?group={group}&bucket=2").get_data(as_text=True)
        assert ">L-31<" in html, group
    other = create_brand()
    html = boss.get(f"/admin/insight/invoices?group=brand:{other.id}&bucket=2").get_data(
        as_text=True
    )
    assert ">L-31<" not in html and "No invoices here" in html


def test_a_month_drills_down_to_what_was_owed_at_its_end(book, boss):
    month_end = TODAY.replace(day=1) - dt.timedelta(days=1)
    html = boss.get(f"/admin/insight/invoices?month={month_end}").get_data(as_text=True)
    assert "Owed at the end of" in html
    assert ">L-30<" in html and ">L-31<" in html  # sent before that day, open since
    assert (">N-1<" in html) == (TODAY - dt.timedelta(days=4) <= month_end)
    # paid ones count until the day they were paid: (sent, paid) of each debtor's invoices
    owed = 0
    for months in range(2, 14):
        due = TODAY - dt.timedelta(days=30 * months)
        for late in (-1, 50):
            if due - dt.timedelta(days=14) <= month_end < due + dt.timedelta(days=late):
                owed += 1
    assert html.count('<td data-label="Expected">paid ') == owed


def test_downloads_hold_the_figures(book, boss):
    for name in ("dso", "ageing", "forecast", "backtest", "debtors"):
        response = boss.get(f"/admin/insight/{name}.xlsx")
        assert response.status_code == 200, name
        workbook = load_workbook(io.BytesIO(response.data))
        sheet = workbook.worksheets[0]
        assert sheet.max_row > 1, name
    ageing = load_workbook(io.BytesIO(boss.get("/admin/insight/ageing.xlsx").data)).worksheets[0]
    rows = {r[0]: r for r in ageing.iter_rows(min_row=2, values_only=True)}
    assert rows["All invoices"][1:7] == (1, 110.0, 1, 300.0, 1, 310.0)


def test_the_forecast_page_shows_the_forecast_and_the_backtest(book, boss):
    html = boss.get("/admin/insight/forecast").get_data(as_text=True)
    assert "Money expected in, the next 13 weeks" in html
    assert "How good are the predictions?" in html
    assert "Paid within 7 days of the predicted day" in html


def test_the_debtor_page_shows_the_rating_its_reasons_and_predictions(book, boss):
    html = boss.get(f"/admin/debtors/{book['poor']}").get_data(as_text=True)
    assert "Poor payer" in html
    assert re.search(r"Pays \d\d days late on average \(weighted by amount\)", html)
    assert "chance late" in html  # the open invoices' predictions
    assert "Days late per quarter" in html


def test_the_invoice_page_shows_when_it_is_expected(book, boss):
    html = boss.get(f"/admin/invoices/{book['invoices']['31']}").get_data(as_text=True)
    assert "Expected" in html and "100% chance late" in html  # overdue already


def test_the_debtor_list_filters_by_rating(book, boss):
    html = boss.get("/admin/debtors?grade=poor").get_data(as_text=True)
    assert "Piet Poor" in html and "Anna Prompt" not in html
    html = boss.get("/admin/debtors?grade=good").get_data(as_text=True)
    assert "Anna Prompt" in html and "Piet Poor" not in html
    html = boss.get("/admin/insight/debtors?grade=poor").get_data(as_text=True)
    assert "Piet Poor" in html and "Anna Prompt" not in html


def test_a_rating_rule_shows_who_would_move_then_moves_them_audited(book, boss):
    strict = create_segment(name="High risk")
    token = page_csrf(boss, "/admin/insight/rules")
    response = boss.post(
        "/admin/insight/rules",
        data={"csrf_token": token, "grade": "poor", "from_segment": "", "to_segment": strict.id},
    )
    assert response.status_code == 303
    rule = db.session.scalars(select(RatingRule)).one()
    preview = boss.get(f"/admin/insight/rules/{rule.id}").get_data(as_text=True)
    assert "1 debtor would move now" in preview and "Piet Poor" in preview
    assert "Anna Prompt" not in preview
    poor_id = book["poor"]
    assert db.session.get(Debtor, poor_id).segment_id == book["segment"]  # not yet

    stamp = preview.split('name="stamp" value="')[1].split('"')[0]
    token = page_csrf(boss, f"/admin/insight/rules/{rule.id}")
    boss.post(f"/admin/insight/rules/{rule.id}/apply", data={"csrf_token": token, "stamp": stamp})
    db.session.expire_all()
    assert db.session.get(Debtor, poor_id).segment_id == strict.id
    assert db.session.get(Debtor, book["prompt"]).segment_id == book["segment"]
    moved = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "debtor.segment_moved")
    ).one()
    assert moved.debtor_id == poor_id and moved.details["to_segment"] == strict.id
    assert db.session.get(RatingRule, rule.id).moved == 1
    assert "0 debtors would move now" in boss.get(f"/admin/insight/rules/{rule.id}").get_data(
        as_text=True
    )


def test_applying_after_the_ratings_changed_is_refused(book, boss):
    strict = create_segment(name="High risk")
    rule = RatingRule(grade="poor", to_segment_id=strict.id, created_by="test")
    db.session.add(rule)
    db.session.commit()
    preview = boss.get(f"/admin/insight/rules/{rule.id}").get_data(as_text=True)
    stamp = preview.split('name="stamp" value="')[1].split('"')[0]
    refresh.run(db.session(), TODAY, TZ)  # the worker computes again in between
    token = page_csrf(boss, f"/admin/insight/rules/{rule.id}")
    response = boss.post(
        f"/admin/insight/rules/{rule.id}/apply",
        data={"csrf_token": token, "stamp": stamp},
        follow_redirects=True,
    )
    assert "computed again since the preview" in response.get_data(as_text=True)
    assert db.session.get(Debtor, book["poor"]).segment_id == book["segment"]


def test_a_clerk_sees_rules_but_cannot_apply_them(book, client):
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    strict = create_segment(name="High risk")
    rule = RatingRule(grade="poor", to_segment_id=strict.id, created_by="test")
    db.session.add(rule)
    db.session.commit()
    html = client.get(f"/admin/insight/rules/{rule.id}").get_data(as_text=True)
    assert "would move now" in html and "Move these" not in html
    token = page_csrf(client, f"/admin/insight/rules/{rule.id}")
    response = client.post(f"/admin/insight/rules/{rule.id}/apply", data={"csrf_token": token})
    assert response.status_code == 403


def test_an_admin_asks_for_the_weekly_summary_in_french(book, boss):
    token = page_csrf(boss, "/admin/insight")
    boss.post(
        "/admin/insight/summary",
        data={"csrf_token": token, "weekly_summary": "1", "language": "fr"},
    )
    user = db.session.scalars(select(AdminUser).where(AdminUser.email == "boss@example.com")).one()
    assert user.weekly_summary and user.language == "fr"
    token = page_csrf(boss, "/admin/insight")
    boss.post("/admin/insight/summary", data={"csrf_token": token, "language": "fr"})
    db.session.expire_all()
    assert not db.session.get(AdminUser, user.id).weekly_summary


def test_ratings_exist_for_both_debtors(book):
    grades = {r.debtor_id: r.grade for r in db.session.scalars(select(DebtorRating))}
    assert grades == {book["prompt"]: "good", book["poor"]: "poor"}
