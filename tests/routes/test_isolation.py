"""No debtor can reach another debtor's invoices or documents: every route with an id."""

import pytest

from portal.db import db
from portal.models import Payment
from tests.conftest import login_as
from tests.factories import create_debtor, create_invoice

DEBTOR_BLUEPRINTS = ("portal.",)


def routes_with_ids(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(DEBTOR_BLUEPRINTS) and rule.arguments:
            yield rule


def paid(debtor, invoice):
    """A received payment of the debtor for the invoice; its public id."""
    payment = Payment(
        public_id=f"pay-{debtor.id}",
        reference=f"BP-2026-{debtor.id:06d}",
        brand_id=debtor.brand_id,
        debtor_id=debtor.id,
        provider="sandbox",
        status="paid",
        amount_cents=invoice.open_cents,
        received_cents=invoice.open_cents,
        invoices=[invoice],
    )
    db.session.add(payment)
    db.session.flush()
    return payment.public_id


def test_every_debtor_route_with_an_id_refuses_another_debtors_ids(app, client):
    mine = create_debtor()
    theirs = create_debtor(brand=mine.brand)
    own_invoice = create_invoice(mine)
    their_invoice = create_invoice(theirs, number="SECRET-42")
    own_payment, their_payment = (paid(mine, own_invoice), paid(theirs, their_invoice))
    ids = {"invoice_id": their_invoice.id, "debtor_id": theirs.id, "public_id": their_payment}
    own_ids = {"invoice_id": own_invoice.id, "debtor_id": mine.id, "public_id": own_payment}
    login_as(client, mine)

    checked = []
    for rule in routes_with_ids(app):
        unknown = rule.arguments - ids.keys()
        assert not unknown, f"{rule.rule}: add {unknown} to this test"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            own_path = rule.build(own_ids)[1]
            other_path = rule.build(ids)[1]
            assert client.open(own_path, method=method).status_code in (200, 303), own_path
            response = client.open(other_path, method=method)
            assert response.status_code == 404, f"{method} {other_path}"
            assert b"SECRET-42" not in response.data
            checked.append(rule.rule)
    assert "/invoices/<int:invoice_id>" in checked
    assert "/invoices/<int:invoice_id>/pdf" in checked


@pytest.mark.parametrize("path", ["/invoices?status=all", "/overview", "/invoices?q=SECRET"])
def test_lists_and_statements_never_include_other_debtors(client, path):
    mine = create_debtor()
    theirs = create_debtor(brand=mine.brand, emails=[mine.primary_email])  # same address!
    create_invoice(mine, number="MINE-1")
    create_invoice(theirs, number="SECRET-42")
    login_as(client, mine)  # the session chose `mine`
    assert b"SECRET-42" not in client.get(path).data


def test_statement_of_the_chosen_account_only(client):
    from io import BytesIO

    from openpyxl import load_workbook

    mine = create_debtor()
    theirs = create_debtor(brand=mine.brand)
    create_invoice(mine, number="MINE-1")
    create_invoice(theirs, number="SECRET-42")
    login_as(client, mine)
    sheet = load_workbook(BytesIO(client.get("/statement.xlsx").data)).active
    numbers = [row[0] for row in sheet.iter_rows(min_row=5, values_only=True)]
    assert numbers == ["MINE-1"]


def test_a_forged_session_debtor_id_is_ignored(client):
    mine = create_debtor()
    theirs = create_debtor(brand=mine.brand)
    create_invoice(theirs, number="SECRET-42")
    login_as(client, mine)
    with client.session_transaction() as sess:
        sess["debtor_id"] = theirs.id  # not among the allowed ids of this login
    response = client.get("/overview")
    assert response.status_code == 302
    assert response.headers["Location"] == "/choose"
