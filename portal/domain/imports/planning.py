"""Planning: checked rows against the database, changing nothing.

The plan says which debtors are new, which invoices are new or changed, which are paid
elsewhere (an open-items file that no longer lists them), and what cannot be imported.
The preview shows it; the commit makes it again inside its write transaction and
writing.py carries it out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.imports.columns import LABELS
from portal.domain.imports.rows import Issue, Row, issue
from portal.domain.payments import references
from portal.domain.problems import N_
from portal.models import (
    CHARGE_KINDS,
    Allocation,
    Brand,
    Debtor,
    DebtorEmail,
    Invoice,
    InvoiceStatus,
    Payment,
    utcnow,
)

RECENTLY_PAID = N_(
    "paid in the portal recently and perhaps not booked yet: "
    "the open amount stays at the lower portal figure"
)
COMPARED = (
    "invoice_date",
    "due_date",
    "currency",
    "total_cents",
    "open_cents",
    "description",
    "reference",
    "kind",
    "status",
)


@dataclass
class Plan:
    """What a batch does to the database: new debtors, new and changed invoices, invoices
    paid elsewhere, and the rows that cannot be imported (`issues`) or only with a note."""

    debtor_for_row: dict[int, int | str] = field(default_factory=dict)  # line -> id or new key
    new_debtors: dict[str, Row] = field(default_factory=dict)  # key -> first row
    inserts: list[Row] = field(default_factory=list)
    updates: list[tuple[int, Row]] = field(default_factory=list)
    paid_elsewhere: list[int] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    unchanged: int = 0
    # invoice id -> (open amount the accounting package reported before, open now)
    seen_open: dict[int, tuple[int, int]] = field(default_factory=dict)
    by_reference: dict[int, int] = field(default_factory=dict)  # invoice id -> reference id


def _recently_paid_here(session: Session, brand: Brand, lag_days: int) -> set[int]:
    """Invoices with a portal payment younger than the booking lag (DESIGN.md section 9).

    The accounting package may not have booked such a payment yet, so an export that shows
    a higher open amount is probably older than the payment: the import may not raise it.
    """
    cutoff = utcnow() - dt.timedelta(days=lag_days)
    return set(
        session.scalars(
            select(Allocation.invoice_id)
            .join(Payment, Payment.id == Allocation.payment_id)
            .where(
                Payment.brand_id == brand.id,
                Payment.paid_at >= cutoff,
                Allocation.amount_cents > Allocation.reversed_cents,
            )
        )
    )


def make_plan(
    session: Session,
    brand: Brand,
    rows: list[Row],
    *,
    mode: str,
    has_number_column: bool,
    booking_lag_days: int,
) -> Plan:
    """Match checked rows against `brand`'s debtors and invoices (DESIGN.md section 9):
    debtors by number, by email only when the file has no debtor-number column; invoices by
    number. `mode` "open_items" marks open invoices missing from the file paid elsewhere."""
    plan = Plan()
    by_number = {
        n: i
        for n, i in session.execute(
            select(Debtor.number, Debtor.id).where(Debtor.brand_id == brand.id)
        )
    }
    by_email: dict[str, list[int]] = {}
    if not has_number_column:
        for email, debtor_id in session.execute(
            select(DebtorEmail.email, DebtorEmail.debtor_id)
            .join(Debtor, Debtor.id == DebtorEmail.debtor_id)
            .where(Debtor.brand_id == brand.id)
        ):
            by_email.setdefault(email, []).append(debtor_id)
    existing = {
        row.number: row
        for row in session.execute(
            select(
                Invoice.id,
                Invoice.number,
                Invoice.debtor_id,
                Invoice.import_open_cents,
                *[getattr(Invoice, c) for c in COMPARED],
            ).where(Invoice.brand_id == brand.id, Invoice.kind.not_in(CHARGE_KINDS))
        )
    }
    paid_here = _recently_paid_here(session, brand, booking_lag_days)
    confirmed = _confirmed_contacts(session, brand)
    for row in rows:
        debtor: int | str | None = None
        if row.debtor_number:
            debtor = by_number.get(row.debtor_number) or f"n:{row.debtor_number}"
        elif row.email and len(by_email.get(row.email, [])) == 1:
            debtor = by_email[row.email][0]
        elif row.email and len(by_email.get(row.email, [])) > 1:
            plan.issues.append(
                issue(
                    row.line,
                    LABELS["email"],
                    row.email,
                    N_("several customers have this address; add a customer number column"),
                )
            )
            continue
        elif row.email:
            debtor = f"e:{row.email}"
        else:
            plan.issues.append(
                issue(
                    row.line,
                    LABELS["debtor_number"],
                    "",
                    N_("each row needs a customer number or an email address"),
                )
            )
            continue
        if isinstance(debtor, str) and debtor not in plan.new_debtors:
            if not row.email:
                plan.issues.append(
                    issue(
                        row.line, LABELS["email"], "", N_("a new customer needs an email address")
                    )
                )
                continue
            plan.new_debtors[debtor] = row
        plan.debtor_for_row[row.line] = debtor
        if isinstance(debtor, int) and debtor in confirmed:
            differs = _differs_from_confirmed(row, confirmed.pop(debtor))
            if differs:  # said once per customer, on its first row
                plan.warnings.append(
                    issue(row.line, LABELS[differs], "", CONFIRMED_CONTACT, "warning")
                )
        old = existing.get(row.invoice_number)
        if old is None:
            plan.inserts.append(row)
            continue
        if isinstance(debtor, str) or old.debtor_id != debtor:
            plan.issues.append(
                issue(
                    row.line,
                    LABELS["invoice_number"],
                    row.invoice_number,
                    N_("this invoice number belongs to another customer"),
                )
            )
            continue
        if old.id in paid_here and row.open_cents > old.open_cents:
            plan.warnings.append(
                issue(
                    row.line,
                    LABELS["open"],
                    f"{row.open_cents / 100:.2f}",
                    RECENTLY_PAID,
                    "warning",
                )
            )
            row.open_cents = old.open_cents
        # where costs and interest took part of a payment made elsewhere (art. 6:44 BW),
        # the file is compared with what it said before, not with the portal's principal
        seen = old.open_cents if old.import_open_cents is None else old.import_open_cents
        plan.seen_open[old.id] = (seen, old.open_cents)
        was = {c: getattr(old, c) for c in COMPARED}
        if old.import_open_cents is not None:
            was["open_cents"] = seen
            was["status"] = InvoiceStatus.PAID.value if seen == 0 else InvoiceStatus.OPEN.value
        if values(row) != tuple(was[c] for c in COMPARED):
            plan.updates.append((old.id, row))
            if row.payment_reference and row.open_cents < seen:
                _recognise(session, brand, row, old.id, plan)
        else:
            plan.unchanged += 1
    if mode == "open_items":
        in_file = {r.invoice_number for r in rows}
        plan.paid_elsewhere = [
            old.id
            for number, old in existing.items()
            if number not in in_file and old.status == InvoiceStatus.OPEN and old.open_cents != 0
        ]
        for number, old in existing.items():
            if number not in in_file:
                seen = old.open_cents if old.import_open_cents is None else old.import_open_cents
                plan.seen_open[old.id] = (seen, old.open_cents)
    return plan


def _recognise(session: Session, brand: Brand, row: Row, invoice_id: int, plan: Plan) -> None:
    """A payment made elsewhere that names one of our payment references: remember which
    request it paid; a reference of another request or brand gets a warning."""
    found = references.recognise(session, brand, row.payment_reference)
    if found is not None and invoice_id in found.invoice_ids:
        plan.by_reference[invoice_id] = found.id
    elif references.parse(row.payment_reference) is not None:
        plan.warnings.append(
            issue(
                row.line,
                LABELS["payment_reference"],
                row.payment_reference,
                N_("this payment reference was not made for this invoice"),
                "warning",
            )
        )


CONFIRMED_CONTACT = N_(
    "the customer confirmed other contact details in the portal; those are kept and this"
    " file's are not used"
)


def _confirmed_contacts(session: Session, brand: Brand) -> dict[int, dict[str, Any]]:
    """Contact details that debtors of `brand` confirmed in the portal, by debtor id."""
    rows = session.execute(
        select(Debtor.id, Debtor.phone, Debtor.address_line, Debtor.postcode, Debtor.city).where(
            Debtor.brand_id == brand.id, Debtor.contact_confirmed_at.is_not(None)
        )
    ).all()
    found = {
        r.id: {
            "phone": r.phone,
            "address": r.address_line,
            "postcode": r.postcode,
            "city": r.city,
            "emails": set(),
        }
        for r in rows
    }
    if found:
        for debtor_id, email in session.execute(
            select(DebtorEmail.debtor_id, DebtorEmail.email).where(
                DebtorEmail.debtor_id.in_(list(found))
            )
        ):
            found[debtor_id]["emails"].add(email)
    return found


def _differs_from_confirmed(row: Row, confirmed: dict[str, Any]) -> str:
    """The first column in which the row names other contact details than the debtor
    confirmed, or "" (an empty cell names nothing)."""
    if row.email and row.email not in confirmed["emails"]:
        return "email"
    for column in ("phone", "address", "postcode", "city"):
        value = getattr(row, column)
        if value and value.strip().lower() != (confirmed[column] or "").strip().lower():
            return column
    return ""


def values(row: Row) -> tuple[Any, ...]:
    """The row's values in the order of COMPARED, its status from the open amount."""
    status = InvoiceStatus.PAID.value if row.open_cents == 0 else InvoiceStatus.OPEN.value
    return (
        row.invoice_date,
        row.due_date,
        row.currency,
        row.total_cents,
        row.open_cents,
        row.description,
        row.reference,
        row.kind,
        status,
    )
