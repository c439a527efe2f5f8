"""Pay-links: signed, reusable until paid, revoked or expired; nothing personal shown."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.db import db
from portal.domain.payments import paylinks
from portal.domain.payments.paylinks import LinkState
from portal.models import Invoice, PayLink
from tests.factories import create_debtor, create_invoice

SECRET = "test-secret-key"


@pytest.fixture
def link(app):
    debtor = create_debtor(name="Jansen Privé")
    invoice = create_invoice(debtor, number="F-1001", total_cents=4500)
    pay_link = paylinks.create(db.session(), debtor, [invoice], actor="admin:1")
    db.session.commit()
    return pay_link


def test_the_same_link_can_be_shown_again_and_opened_many_times(client, link):
    token = paylinks.token(link, SECRET)
    assert paylinks.token(link, SECRET) == token
    for _ in range(3):
        page = client.get(f"/p/{token}")
        assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "F-1001" in html and "€45.00" in html and "Jansen" not in html


def test_forged_and_tampered_tokens_are_invalid(client, link):
    token = paylinks.token(link, SECRET)
    # the first character carries data in full (the last bits of a base64 signature may
    # not), so changing it always breaks the signature
    tampered = ("A" if token[0] != "A" else "B") + token[1:]
    assert client.get(f"/p/{tampered}").status_code == 404
    other = paylinks.token(link, "another-secret")
    assert paylinks.resolve(db.session(), other, SECRET).state == LinkState.INVALID
    db.session.get(PayLink, link.id).nonce = "changed"  # e.g. a link re-issued by admin
    db.session.commit()
    assert paylinks.resolve(db.session(), token, SECRET).state == LinkState.INVALID


def test_revoked_link_stops_working(client, link):
    token = paylinks.token(link, SECRET)
    assert paylinks.revoke(db.session(), link, "admin:1")
    db.session.commit()
    page = client.get(f"/p/{token}")
    assert page.status_code == 410 and "no longer works" in page.get_data(as_text=True)


def test_expired_link(client, link):
    token = paylinks.token(link, SECRET)
    later = link.expires_at + dt.timedelta(seconds=1)
    assert paylinks.resolve(db.session(), token, SECRET, now=later).state == LinkState.EXPIRED


def test_paid_link_says_already_paid(client, link):
    invoice = db.session.get(Invoice, link.invoices[0].id)
    invoice.open_cents, invoice.status = 0, "paid"
    db.session.commit()
    page = client.get(f"/p/{paylinks.token(link, SECRET)}")
    assert page.status_code == 200 and "Already paid" in page.get_data(as_text=True)


def test_a_link_covers_invoices_of_one_debtor_only(app):
    one, two = create_debtor(), create_debtor()
    with pytest.raises(ValueError):
        paylinks.create(
            db.session(), one, [create_invoice(one), create_invoice(two)], actor="admin:1"
        )
