"""Payment references people can read aloud, the Payments page and receipts."""

from __future__ import annotations

import io
import re
import threading

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.db import db
from portal.domain.payments import receipts
from portal.models import Payment
from tests.conftest import csrf_from, login_as
from tests.factories import create_debtor, create_invoice
from tests.payments.helpers import checkout_of
from tests.payments.test_paying import sandbox_decide, start


def test_references_count_up_per_year(app):
    session = db.session()
    first = receipts.next_reference(session, 2030)
    assert first == "BP-2030-000001"
    assert receipts.next_reference(session, 2030) == "BP-2030-000002"
    assert receipts.next_reference(session, 2031) == "BP-2031-000001"


@pytest.mark.committed
@pytest.mark.usefixtures("committed")
def test_concurrent_payments_never_share_a_number(app):
    drawn: list[str] = []
    errors: list[BaseException] = []

    def draw() -> None:
        try:
            with app.app_context():
                for _ in range(15):
                    with db.unit_of_work() as session:
                        drawn.append(receipts.next_reference(session, 2032))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=draw) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(drawn) == [f"BP-2032-{n:06d}" for n in range(1, 46)]


def test_a_paid_payment_has_a_reference_a_receipt_and_a_line_on_the_payments_page(client):
    debtor = create_debtor(language="en")
    invoice = create_invoice(debtor, number="R-77", total_cents=12345)
    login_as(client, debtor)
    response = start(client, [invoice])
    payment = db.session.scalars(select(Payment)).one()
    assert re.fullmatch(r"BP-\d{4}-\d{6}", payment.reference)
    sandbox_decide(client, checkout_of(client, response), "paid")
    back = client.get(f"/pay/return/{payment.public_id}").get_data(as_text=True)
    assert payment.reference in back and "Download the receipt (PDF)" in back
    db.session.expire_all()

    page = client.get("/payments").get_data(as_text=True)
    assert payment.reference in page and "R-77" in page and "€123.45" in page
    receipt = client.get(f"/payments/{payment.public_id}/receipt.pdf")
    assert receipt.status_code == 200
    assert payment.reference in receipt.headers["Content-Disposition"]
    text = PdfReader(io.BytesIO(receipt.data)).pages[0].extract_text()
    assert payment.reference in text and "R-77" in text and "123.45" in text

    stranger = create_debtor()
    login_as(client, stranger)
    assert client.get(f"/payments/{payment.public_id}/receipt.pdf").status_code == 404
    assert payment.reference not in client.get("/payments").get_data(as_text=True)
    assert csrf_from(client.get("/payments").get_data(as_text=True))
