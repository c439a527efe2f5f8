"""The same pay form sent five times at once (a double click, a reload, an impatient
person): one payment, and every submit goes to its checkout."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from portal.db import db
from portal.models import Payment
from tests.conftest import csrf_from, english_client, login_as
from tests.factories import create_debtor, create_invoice
from tests.payments.test_paying import sandbox_decide

pytestmark = [pytest.mark.committed, pytest.mark.usefixtures("committed")]


def test_five_submits_of_one_pay_form_make_one_payment(app):
    debtor = create_debtor()
    invoice = create_invoice(debtor, total_cents=12100)
    browsers = [english_client(app) for _ in range(5)]
    for browser in browsers:
        login_as(browser, debtor)
    page = browsers[0].get("/pay", query_string={"invoice": [invoice.id]}).get_data(as_text=True)
    submit_token = re.search(r'name="submit_token" value="([^"]+)"', page)
    assert submit_token is not None
    forms = [
        {
            "csrf_token": csrf_from(b.get("/pay", query_string={"invoice": [invoice.id]}).text),
            "invoice": [invoice.id],
            "method": "ideal",
            "submit_token": submit_token.group(1),  # the same form, sent again
        }
        for b in browsers
    ]
    db.session.remove()
    barrier = threading.Barrier(5)
    locations: list[str] = []

    def submit(n: int) -> None:
        try:
            barrier.wait(10)
            response = browsers[n].post("/pay", data=forms[n])
            locations.append(f"{response.status_code} {response.headers.get('Location')}")
        finally:
            db.session.remove()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    payment = db.session.scalars(select(Payment)).one()
    assert locations == [f"303 /pay/go/{payment.public_id}"] * 5  # to the one checkout
    # paid, then the same form once more: the receipt, not a new payment
    back = sandbox_decide(browsers[0], payment.checkout_url, "paid")
    browsers[0].get(back.headers["Location"])  # the return page learns it is paid
    again = browsers[0].post("/pay", data=forms[0])
    assert again.headers["Location"].endswith(f"/pay/return/{payment.public_id}")
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    # a new visit to the pay page is a new form
    fresh = english_client(app)
    login_as(fresh, debtor)
    other = fresh.get("/pay", query_string={"invoice": [invoice.id]}).get_data(as_text=True)
    assert submit_token.group(1) not in other
