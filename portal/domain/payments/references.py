"""Structured payment references for bank transfers, one per payment request.

A Dutch brand gets an RF creditor reference (ISO 11649: "RF", two check digits and the
reference; the check digits make the whole, read as a number with letters A=10 .. Z=35
and "RF00" moved to the end, leave 1 modulo 97). A Belgian brand gets the Belgian
structured communication (+++ddd/dddd/dddcc+++: ten digits and a check of their value
modulo 97, 97 when that is 0). The digits are the id of a `PaymentReference` row, which
remembers the invoices the request was for, so an import can recognise the transfer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Brand, Debtor, Invoice, PaymentReference

_RF = re.compile(r"^RF(\d{2})([0-9A-Z]{1,21})$")


def _digits(text: str) -> int:
    """A string of digits and letters as ISO 7064 reads it (A=10 .. Z=35)."""
    return int("".join(str(int(c, 36)) for c in text))


def rf(reference: str) -> str:
    """The RF creditor reference (ISO 11649) of `reference`, compact ("RF18539007547034")."""
    body = reference.upper()
    check = 98 - _digits(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def rf_valid(text: str) -> bool:
    """Whether `text` (spaces allowed) is a well-formed RF reference with a right check."""
    compact = text.replace(" ", "").upper()
    match = _RF.match(compact)
    return bool(match) and _digits(compact[4:] + compact[:4]) % 97 == 1


def be_structured(number: int) -> str:
    """The Belgian structured communication of a ten-digit number: +++ddd/dddd/dddcc+++."""
    if not 0 <= number < 10**10:
        raise ValueError("a structured communication carries ten digits")
    digits = f"{number:010d}{(number % 97) or 97:02d}"
    return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}+++"


def be_valid(text: str) -> bool:
    """Whether `text` is a Belgian structured communication with a right check (the
    +++ or *** around it and the slashes may be left out)."""
    digits = re.sub(r"[+*/\s]", "", text)
    if not re.fullmatch(r"\d{12}", digits):
        return False
    number, check = int(digits[:10]), int(digits[10:])
    return check == ((number % 97) or 97)


def pretty(code: str) -> str:
    """An RF reference in groups of four, as banks print it; others as they are."""
    if code.startswith("RF"):
        return " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    return code


def code_for(reference_id: int, country: str) -> str:
    """The printed reference of a request: structured communication for a Belgian brand,
    RF for the others."""
    if country == "BE":
        return be_structured(reference_id)
    return rf(f"{reference_id:08d}")


def parse(text: str) -> int | None:
    """The request id a reference names, or None when it is not one of ours or its check
    digits are wrong (a typo)."""
    compact = text.replace(" ", "").upper()
    if compact.startswith("RF"):
        if not rf_valid(compact):
            return None
        body = compact[4:]
        return int(body) if body.isdigit() else None
    if be_valid(text):
        return int(re.sub(r"[+*/\s]", "", text)[:10])
    return None


def for_invoices(session: Session, debtor: Debtor, invoices: Sequence[Invoice]) -> str:
    """The reference to state when transferring money for these invoices (made the first
    time a request for exactly these invoices is shown; the caller commits)."""
    ids = sorted({i.id for i in invoices})
    key = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()
    row = session.scalar(
        select(PaymentReference).where(
            PaymentReference.brand_id == debtor.brand_id, PaymentReference.invoice_key == key
        )
    )
    if row is None:
        row = PaymentReference(
            brand_id=debtor.brand_id, debtor_id=debtor.id, invoice_key=key, invoice_ids=ids
        )
        session.add(row)
        session.flush()
    return code_for(row.id, debtor.brand.country)


def recognise(session: Session, brand: Brand, text: str) -> PaymentReference | None:
    """The brand's payment request a transfer's reference names, or None."""
    reference_id = parse(text)
    if reference_id is None:
        return None
    row = session.get(PaymentReference, reference_id)
    if row is None or row.brand_id != brand.id:
        return None
    if code_for(row.id, brand.country) != _canonical(text, brand.country):
        return None  # an RF reference on a Belgian brand's request, or the other way round
    return row


def _canonical(text: str, country: str) -> str:
    compact = text.replace(" ", "").upper()
    if country == "BE":
        digits = re.sub(r"[+*/\s]", "", text)
        return be_structured(int(digits[:10])) if len(digits) == 12 else compact
    return compact
