"""Plain functions that create rows with sane defaults.

They commit: inside a test that only releases a savepoint of the rolled-back test
transaction, and it makes the rows visible to the requests the test makes."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from portal.db import db
from portal.domain import clock
from portal.models import AdminUser, Brand, Debtor, DebtorEmail, Invoice, Segment

_seq = itertools.count(1)


def business_today() -> dt.date:
    """Today in the portal's time zone, as the app counts days (the tests' settings keep
    the default Europe/Amsterdam); near midnight UTC it is not the machine's date."""
    return clock.today("Europe/Amsterdam")


def create_brand(**kw: Any) -> Brand:
    n = next(_seq)
    values: dict[str, Any] = {
        "slug": f"brand-{n}",
        "name": f"Brand {n}",
        "primary_color": "#0f766e",
        "accent_color": "#f59e0b",
        "sender_name": f"Brand {n}",
        "sender_email": f"billing{n}@brand.example.com",
        "support_email": f"help{n}@brand.example.com",
        "iban": "NL91ABNA0417164300",
    }
    values.update(kw)
    brand = Brand(**values)
    db.session.add(brand)
    db.session.commit()
    return brand


def create_segment(**kw: Any) -> Segment:
    values: dict[str, Any] = {"name": f"Segment {next(_seq)}", "payment_term_days": 14}
    values.update(kw)
    segment = Segment(**values)
    db.session.add(segment)
    db.session.commit()
    return segment


def create_debtor(brand: Brand | None = None, emails: list[str] | None = None, **kw: Any) -> Debtor:
    n = next(_seq)
    brand = brand or create_brand()
    values: dict[str, Any] = {
        "brand_id": brand.id,
        "number": f"D{n:05d}",
        "name": f"Debtor {n}",
        "language": "en",
        "address_line": "Kerkstraat 1",
        "postcode": "3511 AB",
        "city": "Utrecht",
    }
    values.update(kw)
    debtor = Debtor(**values)
    addresses = [f"debtor{n}@example.com"] if emails is None else emails
    debtor.emails = [DebtorEmail(email=e.lower()) for e in addresses]
    db.session.add(debtor)
    db.session.commit()
    return debtor


def create_invoice(debtor: Debtor, **kw: Any) -> Invoice:
    n = next(_seq)
    invoice_date = kw.pop("invoice_date", dt.date(2026, 10, 1))
    total = kw.pop("total_cents", 12100)
    values: dict[str, Any] = {
        "brand_id": debtor.brand_id,
        "debtor_id": debtor.id,
        "number": f"INV-{n:06d}",
        "invoice_date": invoice_date,
        "due_date": invoice_date + dt.timedelta(days=14),
        "total_cents": total,
        "open_cents": total,
        "description": "Consultancy",
    }
    values.update(kw)
    invoice = Invoice(**values)
    db.session.add(invoice)
    db.session.commit()
    return invoice


ADMIN_PASSWORD = "correct horse battery staple"


def create_admin(
    email: str | None = None, role: str = "admin", password: str = ADMIN_PASSWORD, **kw: Any
) -> AdminUser:
    from portal.domain import admins

    user = admins.create_admin(
        db.session(),
        email or f"admin{next(_seq)}@example.com",
        password,
        role=role,
        by="test",
        **kw,
    )
    db.session.commit()
    return user
