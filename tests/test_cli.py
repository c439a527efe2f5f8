import datetime as dt

from sqlalchemy import func, select

from portal.db import db
from portal.models import (
    Brand,
    Debtor,
    DebtorEmail,
    DebtorRating,
    InsightFigures,
    InstalmentPlan,
    Invoice,
    WorkTask,
)
from tests.factories import business_today


def test_seed_demo_is_idempotent_and_prints_a_working_link(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Demo data created" in first.output
    counts = (
        db.session.scalar(select(func.count(Brand.id))),
        db.session.scalar(select(func.count(Debtor.id))),
        db.session.scalar(select(func.count(Invoice.id))),
    )
    # ~300 recent invoices and two years of paid history before them
    assert counts[0] == 2 and counts[1] == 50 and 1200 <= counts[2] <= 2200
    year_ago = business_today() - dt.timedelta(days=365)
    old = db.session.scalars(select(Invoice.status).where(Invoice.invoice_date < year_ago)).all()
    assert len(old) > 400 and set(old) == {"paid"}
    # insight's figures are there at once, with every kind of payer
    grades = set(db.session.scalars(select(DebtorRating.grade)))
    assert grades == {"good", "average", "poor"}
    assert db.session.get(InsightFigures, "backtest") is not None
    statuses = set(db.session.scalars(select(Invoice.status)))
    assert statuses == {"open", "paid", "handed_over"}  # one customer is with an agency
    partly = db.session.scalar(
        select(func.count(Invoice.id)).where(
            Invoice.open_cents > 0, Invoice.open_cents < Invoice.total_cents
        )
    )
    assert partly > 0
    plan = db.session.scalars(
        select(InstalmentPlan).where(InstalmentPlan.status == "active")
    ).one()  # the demo debtor's, running (breached ones are history)
    assert (plan.status, len(plan.instalments), len(plan.invoices)) == ("active", 3, 2)
    assert plan.agreement_text.startswith("Ik ga akkoord om €\xa0")
    # the demo admin has open tasks in the work queue, one of them overdue
    tasks = db.session.scalars(select(WorkTask).where(WorkTask.status == "open")).all()
    mine = [t for t in tasks if t.assignee is not None and t.assignee.email == "admin@example.com"]
    assert len(mine) == 3 and any(t.due_on < business_today() for t in mine)
    assert all(t.at_stake_cents > 0 for t in tasks)

    second = runner.invoke(args=["seed-demo"])
    assert "already present" in second.output
    assert db.session.scalar(select(func.count(Invoice.id))) == counts[2]

    link = next(line.split()[-1] for line in second.output.splitlines() if "login:" in line)
    path = link.split("portal.test", 1)[1]
    assert "Continue to your invoices" in client.get(path).get_data(as_text=True)

    pay_links = {
        line.split()[-1]
        for out in (first.output, second.output)
        for line in out.splitlines()
        if "pay-link:" in line
    }
    assert len(pay_links) == 1  # the same link both times
    pay_page = client.get(pay_links.pop().split("portal.test", 1)[1])
    assert pay_page.status_code == 200 and "Payment to" in pay_page.get_data(as_text=True)


def test_shared_demo_address_has_several_accounts(app):
    app.test_cli_runner().invoke(args=["seed-demo", "--quiet"])
    shared = db.session.scalar(
        select(func.count(DebtorEmail.id)).where(DebtorEmail.email.like("administratie@%"))
    )
    assert shared >= 2


def test_login_link_command(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo", "--quiet"])
    ok = runner.invoke(args=["login-link", "demo@example.com"])
    assert ok.exit_code == 0 and "/login/" in ok.output
    missing = runner.invoke(args=["login-link", "nobody@example.com"])
    assert missing.exit_code == 1


def test_seed_demo_creates_the_demo_admin_and_prints_it(app, client):
    from portal.demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD
    from tests.conftest import csrf

    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert DEMO_ADMIN_EMAIL in result.output and DEMO_ADMIN_PASSWORD in result.output
    response = client.post(
        "/admin/login",
        data={
            "email": DEMO_ADMIN_EMAIL,
            "password": DEMO_ADMIN_PASSWORD,
            "csrf_token": csrf(client, "/admin/login"),
        },
    )
    assert response.status_code == 303


def test_seed_demo_refuses_production(app, monkeypatch):
    import dataclasses

    settings = app.config["SETTINGS"]
    monkeypatch.setitem(app.config, "SETTINGS", dataclasses.replace(settings, app_env="production"))
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert db.session.scalar(select(func.count(Brand.id))) == 0
