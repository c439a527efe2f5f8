"""The webshop API's rules: keys, pay-links made for a shop's order, idempotent creates.

Keys are `bp_live_…` / `bp_test_…` followed by 32 random bytes; only their SHA-256 is
stored. A test key's records live apart from the real ones: its debtor and invoice numbers
get the `TEST_PREFIX` in the database (so a test call never touches a real customer), its
invoices are held out of dunning, and its pay-links pay through the sandbox.

A key works on the customers it created (`Debtor.api_key_id`). A customer number that
belongs to someone else (imported, or made by another key) is refused with `NotYours`,
unless a full admin let the key link to existing customers (`ApiKey.link_existing`); even
then the key only adds invoices: it never adds, changes or reads contact data or names of a
customer it did not create.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.payments import paylinks
from portal.models import (
    LANGUAGES,
    ApiIdempotency,
    ApiKey,
    ApiPayLink,
    Brand,
    Debtor,
    DebtorEmail,
    DebtorKind,
    Invoice,
    InvoiceStatus,
    PayLink,
    PayLinkInvoice,
    utcnow,
)

LIVE_PREFIX = "bp_live_"
TEST_PREFIX_KEY = "bp_test_"
TEST_PREFIX = "test:"  # debtor and invoice numbers of test records, in the database
HOLD_NO_REMINDERS = "api: no reminders"
HOLD_TEST = "api: test record"
MAX_AMOUNT_CENTS = 100_000_000  # one million euro: above that, a typo
USED_AT_GRANULARITY = dt.timedelta(minutes=1)  # last_used_at is written at most once a minute


# ------------------------------------------------------------------------------ keys
def hash_key(raw: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_key(
    session: Session, brand: Brand, label: str, *, test_mode: bool, actor: str
) -> tuple[ApiKey, str]:
    """A new key for `brand`; returns the row and the raw key (shown once, never stored)."""
    raw = (TEST_PREFIX_KEY if test_mode else LIVE_PREFIX) + secrets.token_urlsafe(32)
    key = ApiKey(
        brand_id=brand.id,
        label=label.strip()[:80] or "API key",
        prefix=raw[:12],
        key_hash=hash_key(raw),
        test_mode=test_mode,
        created_by=actor,
    )
    session.add(key)
    session.flush()
    audit.record(session, actor, "api_key.created", key=key.id, brand=brand.id, test_mode=test_mode)
    return key, raw


def revoke_key(session: Session, key: ApiKey, actor: str) -> bool:
    """Stop a key from working; False when it was revoked already."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    audit.record(session, actor, "api_key.revoked", key=key.id, brand=key.brand_id)
    return True


def authenticate(session: Session, raw: str, now: dt.datetime | None = None) -> ApiKey | None:
    """The live key behind a bearer token, or None; notes when it was last used."""
    if not raw.startswith((LIVE_PREFIX, TEST_PREFIX_KEY)) or len(raw) > 200:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw)))
    if key is None or key.revoked_at is not None:
        return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= USED_AT_GRANULARITY:
        key.last_used_at = now
    return key


def allow_existing(session: Session, key: ApiKey, allowed: bool, actor: str) -> bool:
    """Let `key` add invoices to customers it did not create (or stop it); False when
    nothing changed. Audited: this right decides whose data a shop can reach."""
    if key.link_existing == allowed or key.revoked_at is not None:
        return False
    key.link_existing = allowed
    audit.record(
        session, actor, "api_key.link_existing", key=key.id, brand=key.brand_id, allowed=allowed
    )
    return True


def keys_of_brands(session: Session) -> list[ApiKey]:
    """Every key, newest first (admin)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


# ------------------------------------------------------------------------ pay-links
class Invalid(Exception):
    """The request body is wrong; `errors` maps a JSON pointer to what to change."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Conflict(Exception):
    """The request is well-formed but clashes with what exists."""


class NotYours(Exception):
    """The customer number belongs to a customer this key did not create, and the key may
    not add invoices to existing customers. Says nothing more about that customer."""


@dataclass(frozen=True)
class PayLinkRequest:
    """A checked POST /pay-links body."""

    debtor_number: str
    debtor_name: str
    email: str
    language: str | None
    country: str | None
    kind: str
    invoice_number: str
    amount_cents: int
    currency: str
    reference: str
    description: str
    due_date: dt.date | None
    return_url: str
    reminders: bool


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
RETURN_URL_RE = re.compile(r"^https?://[^\x00-\x20/?#]+[^\x00-\x1f]*$")


def _text(
    errors: dict[str, str],
    body: Mapping[str, Any],
    name: str,
    pointer: str,
    limit: int,
    *,
    required: bool = False,
) -> str:
    if name not in body:
        if required:
            errors[pointer] = "is required"
        return ""
    value = body[name]
    if not isinstance(value, str):
        errors[pointer] = "must be a string"
        return ""
    value = value.strip(" ")  # control characters are refused below, other spaces kept
    if required and not value:
        errors[pointer] = "must not be empty"
    elif len(value) > limit:
        errors[pointer] = f"at most {limit} characters"
    elif any(ord(c) < 32 for c in value):
        errors[pointer] = "must not contain control characters"
    return value


def _choice(
    errors: dict[str, str], body: Mapping[str, Any], name: str, pointer: str, ok: bool, hint: str
) -> None:
    """A present field must be valid: an empty string is no value."""
    if name in body and pointer not in errors and not ok:
        errors[pointer] = hint


def parse_request(body: Any) -> PayLinkRequest:
    """Check a POST /pay-links body; raises Invalid with every problem at once."""
    errors: dict[str, str] = {}
    if not isinstance(body, dict):
        raise Invalid({"/": "the body must be a JSON object"})
    debtor = body.get("debtor")
    invoice = body.get("invoice")
    if not isinstance(debtor, dict):
        errors["/debtor"] = "is required (an object)"
        debtor = {}
    if not isinstance(invoice, dict):
        errors["/invoice"] = "is required (an object)"
        invoice = {}
    number = _text(errors, debtor, "number", "/debtor/number", 30, required=True)
    name = _text(errors, debtor, "name", "/debtor/name", 200)
    email = _text(errors, debtor, "email", "/debtor/email", 254).lower()
    _choice(errors, debtor, "email", "/debtor/email", bool(EMAIL_RE.match(email)), "an email")
    language = _text(errors, debtor, "language", "/debtor/language", 2)
    _choice(errors, debtor, "language", "/debtor/language", language in LANGUAGES, "nl, en or fr")
    country = _text(errors, debtor, "country", "/debtor/country", 2)
    _choice(
        errors,
        debtor,
        "country",
        "/debtor/country",
        bool(re.fullmatch(r"[A-Z]{2}", country)),
        "an ISO 3166 country code in capitals, such as NL",
    )
    kind = _text(errors, debtor, "kind", "/debtor/kind", 3)
    _choice(errors, debtor, "kind", "/debtor/kind", kind in set(DebtorKind), "b2c or b2b")
    kind = kind or DebtorKind.B2C.value
    invoice_number = _text(errors, invoice, "number", "/invoice/number", 30, required=True)
    amount = invoice.get("amount_cents")
    if isinstance(amount, float) and amount.is_integer():  # 12100.0 is an integer in JSON
        amount = int(amount)
    if isinstance(amount, bool) or not isinstance(amount, int):
        errors["/invoice/amount_cents"] = "is required: a whole number of cents, such as 12100"
        amount = 0
    elif not 1 <= amount <= MAX_AMOUNT_CENTS:
        errors["/invoice/amount_cents"] = f"between 1 and {MAX_AMOUNT_CENTS}"
    currency = _text(errors, invoice, "currency", "/invoice/currency", 3)
    _choice(
        errors,
        invoice,
        "currency",
        "/invoice/currency",
        bool(CURRENCY_RE.match(currency)),
        "an ISO 4217 code in capitals, such as EUR",
    )
    currency = currency or "EUR"
    reference = _text(errors, invoice, "reference", "/invoice/reference", 80)
    description = _text(errors, invoice, "description", "/invoice/description", 500)
    due_raw = _text(errors, invoice, "due_date", "/invoice/due_date", 10)
    due: dt.date | None = None
    if due_raw:
        try:
            due = dt.date.fromisoformat(due_raw)
        except ValueError:
            due = None
    _choice(
        errors,
        invoice,
        "due_date",
        "/invoice/due_date",
        due is not None and len(due_raw) == 10,
        "a date such as 2026-12-31",
    )
    return_url = _text(errors, body, "return_url", "/return_url", 2000)
    _choice(
        errors,
        body,
        "return_url",
        "/return_url",
        bool(RETURN_URL_RE.match(return_url)),
        "an http or https URL",
    )
    reminders = body.get("reminders", True)
    if not isinstance(reminders, bool):
        errors["/reminders"] = "true or false"
        reminders = True
    if errors:
        raise Invalid(errors)
    return PayLinkRequest(
        debtor_number=number,
        debtor_name=name,
        email=email,
        language=language or None,
        country=country or None,
        kind=kind,
        invoice_number=invoice_number,
        amount_cents=int(amount),
        currency=currency,
        reference=reference,
        description=description,
        due_date=due,
        return_url=return_url,
        reminders=reminders,
    )


def stored_number(key: ApiKey, number: str) -> str:
    """How a debtor or invoice number of this key's mode is kept in the database."""
    return TEST_PREFIX + number if key.test_mode else number


def shown_number(number: str) -> str:
    """A stored number as the shop knows it."""
    return number.removeprefix(TEST_PREFIX)


def _debtor(session: Session, key: ApiKey, wish: PayLinkRequest) -> Debtor:
    brand = key.brand
    number = stored_number(key, wish.debtor_number)
    debtor = session.scalar(
        select(Debtor).where(Debtor.brand_id == brand.id, Debtor.number == number)
    )
    if debtor is None:
        debtor = Debtor(
            brand_id=brand.id,
            number=number,
            name=wish.debtor_name or wish.debtor_number,  # a shop may know no name
            kind=wish.kind,
            language=wish.language or brand.default_language,
            country=wish.country or brand.country,
            api_key_id=key.id,
        )
        if wish.email:
            debtor.emails = [DebtorEmail(email=wish.email)]
        session.add(debtor)
        session.flush()
        audit.record(session, f"api:{key.id}", "debtor.created", debtor_id=debtor.id)
    elif not created_by(key, debtor):
        if not key.link_existing:
            raise NotYours()
        # linked to a customer someone else made: invoices only, the contact data stays
    elif wish.email and wish.email not in {e.email for e in debtor.emails}:
        # an address is added, never replaced: one the debtor confirmed stays theirs
        debtor.emails.append(DebtorEmail(email=wish.email))
    return debtor


def created_by(key: ApiKey, debtor: Debtor) -> bool:
    """Whether `key` made this customer (and so may see its name and add addresses)."""
    return debtor.api_key_id is not None and debtor.api_key_id == key.id


def _linked_before(session: Session, key: ApiKey, invoice: Invoice) -> bool:
    """Whether this key made a pay-link for the invoice (it created it, then)."""
    return (
        session.scalar(
            select(ApiPayLink.pay_link_id)
            .join(PayLinkInvoice, PayLinkInvoice.pay_link_id == ApiPayLink.pay_link_id)
            .where(ApiPayLink.api_key_id == key.id, PayLinkInvoice.invoice_id == invoice.id)
            .limit(1)
        )
        is not None
    )


def _invoice(
    session: Session, key: ApiKey, debtor: Debtor, wish: PayLinkRequest, today: dt.date
) -> Invoice:
    number = stored_number(key, wish.invoice_number)
    invoice = session.scalar(
        select(Invoice).where(Invoice.brand_id == debtor.brand_id, Invoice.number == number)
    )
    if invoice is not None:
        if invoice.debtor_id != debtor.id:
            raise Conflict("this invoice number belongs to another debtor")
        if not created_by(key, debtor) and not _linked_before(session, key, invoice):
            # a linked key adds invoices; it does not open the customer's other ones
            raise Conflict("this invoice number is already in use")
        if (invoice.total_cents, invoice.currency) != (wish.amount_cents, wish.currency):
            raise Conflict("this invoice exists with another amount or currency")
        if not invoice.payable:
            raise Conflict("this invoice is not open for payment (paid or cancelled)")
        return invoice
    due = wish.due_date or today
    hold = HOLD_TEST if key.test_mode else ("" if wish.reminders else HOLD_NO_REMINDERS)
    invoice = Invoice(
        brand_id=debtor.brand_id,
        debtor_id=debtor.id,
        number=number,
        invoice_date=min(today, due),
        due_date=due,
        currency=wish.currency,
        total_cents=wish.amount_cents,
        open_cents=wish.amount_cents,
        status=InvoiceStatus.OPEN.value,
        reference=wish.reference,
        description=wish.description,
        hold_reason=hold,
    )
    session.add(invoice)
    session.flush()
    audit.record(
        session, f"api:{key.id}", "invoice.created", debtor_id=debtor.id, invoice_id=invoice.id
    )
    return invoice


def create_pay_link(
    session: Session, key: ApiKey, wish: PayLinkRequest, today: dt.date, days: int
) -> ApiPayLink:
    """Find or make the debtor and invoice, and a new pay-link for the invoice."""
    debtor = _debtor(session, key, wish)
    invoice = _invoice(session, key, debtor, wish, today)
    link = paylinks.create(
        session, debtor, [invoice], actor=f"api:{key.id}", purpose="api", days=days
    )
    record = ApiPayLink(
        pay_link_id=link.id,
        api_key_id=key.id,
        brand_id=key.brand_id,
        test_mode=key.test_mode,
        reminders=wish.reminders,
        return_url=wish.return_url,
        pay_link=link,
    )
    session.add(record)
    session.flush()
    return record


def find(session: Session, key: ApiKey, link_id: int) -> ApiPayLink | None:
    """A pay-link this key may see: its brand's, made over the API in the key's mode."""
    return session.scalar(
        select(ApiPayLink).where(
            ApiPayLink.pay_link_id == link_id,
            ApiPayLink.brand_id == key.brand_id,
            ApiPayLink.test_mode == key.test_mode,
        )
    )


def page(session: Session, key: ApiKey, after: int | None, limit: int) -> list[ApiPayLink]:
    """The key's brand's links, newest first, those older than `after`; one extra row
    tells the caller whether there is a next page."""
    query = select(ApiPayLink).where(
        ApiPayLink.brand_id == key.brand_id, ApiPayLink.test_mode == key.test_mode
    )
    if after is not None:
        query = query.where(ApiPayLink.pay_link_id < after)
    return list(session.scalars(query.order_by(ApiPayLink.pay_link_id.desc()).limit(limit + 1)))


def link_status(link: PayLink) -> str:
    """open, paid, revoked or expired."""
    state = paylinks.state_of(link)
    return "open" if state == paylinks.LinkState.USABLE else state.value


def test_mode_of(session: Session, link_id: int) -> bool:
    """Whether a pay-link was made with a test key (it then pays through the sandbox)."""
    return bool(
        session.scalar(select(ApiPayLink.test_mode).where(ApiPayLink.pay_link_id == link_id))
    )


# ---------------------------------------------------------------------- idempotency
def request_hash(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same: method, path and the JSON body's meaning."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("latin-1")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


class IdempotencyClash(Exception):
    """`status` 409: the first request is still running; 422: the key came with another body."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def claim(session: Session, key: ApiKey, idem_key: str, digest: str) -> ApiIdempotency | None:
    """Note a first request under `idem_key` (committed by the caller before working);
    returns the stored row when this key was seen before, raising a clash when it cannot
    be replayed."""
    existing = session.scalar(
        select(ApiIdempotency).where(
            ApiIdempotency.api_key_id == key.id, ApiIdempotency.key == idem_key
        )
    )
    if existing is None:
        try:
            with session.begin_nested():
                session.add(ApiIdempotency(api_key_id=key.id, key=idem_key, request_hash=digest))
        except IntegrityError:  # a twin request claimed it between our read and write
            raise IdempotencyClash(409) from None
        return None
    if existing.request_hash != digest:
        raise IdempotencyClash(422)
    if existing.status_code is None:
        raise IdempotencyClash(409)
    return existing


def remember(
    session: Session, key: ApiKey, idem_key: str, status_code: int, response: dict[str, Any]
) -> None:
    """Store the answer to replay for the same key and body."""
    row = session.scalars(
        select(ApiIdempotency).where(
            ApiIdempotency.api_key_id == key.id, ApiIdempotency.key == idem_key
        )
    ).one()
    row.status_code = status_code
    row.response = response


def forget(session: Session, key_id: int, idem_key: str) -> None:
    """Drop a claim whose request failed, so the shop can try again with the same key."""
    row = session.scalar(
        select(ApiIdempotency).where(
            ApiIdempotency.api_key_id == key_id, ApiIdempotency.key == idem_key
        )
    )
    if row is not None:
        session.delete(row)
