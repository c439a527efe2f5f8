"""A clerk works a task from My tasks to a logged promise, in Chromium. Screenshots of My
tasks and the task screen go to TASK_SCREENSHOTS when that variable names a folder."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.db import db
from portal.domain.worklist import service
from portal.domain.worklist.models import WorkTask
from portal.models import DebtorRequest
from tests.e2e.conftest import open_admin_page
from tests.factories import (
    business_today,
    create_admin,
    create_brand,
    create_debtor,
    create_invoice,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TODAY = business_today()


@pytest.fixture(scope="module")
def queue(live_server):
    brand = create_brand(name="Zonnestroom Utrecht")
    debtor = create_debtor(brand, name="Kees Laat", phone="+31612345678", language="nl")
    other = create_debtor(brand, name="Ria Elders")
    for number, owner, days, cents in (
        ("ZU-3101", debtor, 40, 31_000),
        ("ZU-3102", debtor, 25, 12_500),
        ("ZU-4100", other, 30, 9_000),
    ):
        due = TODAY - dt.timedelta(days=days)
        create_invoice(
            owner,
            number=number,
            invoice_date=due - dt.timedelta(days=14),
            due_date=due,
            total_cents=cents,
        )
    clerk = create_admin("clerk@example.com", role="clerk", password="a strong clerk password")
    colleague = create_admin("colleague@example.com", role="clerk")
    service.make(
        db.session(),
        debtor_id=debtor.id,
        reason="call",
        due_on=TODAY,
        actor="system",
        assignee_id=clerk.id,
    )
    service.make(  # a colleague's: not on this clerk's list
        db.session(),
        debtor_id=other.id,
        reason="call",
        due_on=TODAY,
        actor="system",
        assignee_id=colleague.id,
    )
    db.session.commit()
    db.session.remove()


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("TASK_SCREENSHOTS")
    if not folder:
        return
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_clerk_works_a_task_from_my_tasks_to_a_logged_promise(page: Page, live_server, queue):
    page.goto(f"{live_server}/admin/")
    page.get_by_label("Email address").fill("clerk@example.com")
    page.get_by_label("Password").fill("a strong clerk password")
    page.get_by_role("button", name="Sign in").click()
    open_admin_page(page, "Collection", "My tasks")
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    expect(page.get_by_role("link", name="Ria Elders")).to_have_count(0)
    shot(page, "my-tasks")

    page.get_by_role("link", name="Kees Laat").click()
    expect(page.get_by_role("heading", name="Kees Laat")).to_be_visible()
    call = page.get_by_role("link", name="Call +31612345678")
    expect(call).to_have_attribute("href", "tel:+31612345678")
    expect(page.get_by_text("Spreek ik met Kees Laat?")).to_be_visible()  # guide in Dutch
    shot(page, "task")

    promised = TODAY + dt.timedelta(days=10)
    page.get_by_label("Pays by").fill(promised.isoformat())
    expect(page.get_by_role("checkbox", name="ZU-3101", exact=False)).to_be_checked()
    page.get_by_label("Note (optional)").first.fill("Pays after payday")
    page.get_by_role("button", name="Log the promise").click()

    expect(page.get_by_role("status")).to_contain_text("Logged: Promised to pay.")
    expect(page.get_by_role("link", name="Kees Laat")).to_have_count(0)
    expect(page.get_by_text("No open tasks here.")).to_be_visible()

    mine, theirs = db.session.scalars(select(WorkTask).order_by(WorkTask.id)).all()
    assert (mine.status, mine.outcome) == ("done", "promise")
    assert mine.debtor.name == "Kees Laat" and theirs.status == "open"
    promises = db.session.scalars(
        select(DebtorRequest).where(DebtorRequest.kind == "promise")
    ).all()
    assert sorted(p.invoice.number for p in promises) == ["ZU-3101", "ZU-3102"]
    assert {p.promise_date for p in promises} == {promised}
    assert all(p.invoice.hold_until == promised for p in promises)
    db.session.remove()
