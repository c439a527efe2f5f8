"""Handing a debtor's claim to an agency, and what follows.

`hand_over` takes the debtor's invoices from the queue (with their open cost and interest
lines, which belong to the claim): they become `handed_over`, so reminders stop; the
dossier is built and kept as it was that moment, and delivered the agency's way. While an
agency has a claim the portal says who handles it and how to reach them, and, where the
agency allows it, the debtor may still pay there (`portal_may_pay`); such money is
reported to the agency (`after_portal_payment`). `recall` takes a claim back with a
reason; `give_back` is the agency returning it. Both put the invoices back in the queue as
stopped (only a person hands them over again) and let reminders apply again.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from portal.config import Settings
from portal.domain import audit
from portal.domain.collection.models import (
    ENTRY_MOVES,
    HANDOVER_MOVES,
    Agency,
    AgencyDelivery,
    CollectionEntry,
    EntryState,
    Handover,
    HandoverInvoice,
    HandoverState,
)
from portal.domain.collection.queue import IN_QUEUE
from portal.domain.dunning import charges
from portal.domain.messaging import outbox
from portal.domain.problems import N_, Problem
from portal.models import Brand, Debtor, Invoice, InvoiceKind, InvoiceStatus, utcnow

LINK_DAYS = 14  # a dossier link works this long (a new one can be made from admin)


class HandoverRefused(Problem):
    """A hand-over, recall or return that cannot be done; the message says why."""


@dataclass(frozen=True)
class Delivery:
    """How the app turns a hand-over into links and dossiers (bound to its settings)."""

    build: Callable[[Session, Handover], bytes]  # the dossier ZIP
    link: Callable[[Handover], str]  # the signed download URL
    json_document: Callable[[Session, Handover], dict[str, object]]  # the pushed JSON


def lock_debtor(session: Session, debtor_id: int) -> Debtor:
    """The debtor under a row lock: two hand-overs of one debtor take turns."""
    return session.execute(
        select(Debtor).where(Debtor.id == debtor_id).with_for_update()
    ).scalar_one()


def hand_over(
    session: Session,
    debtor_id: int,
    agency_id: int,
    invoice_ids: Sequence[int] | None,
    by: str,
    delivery: Delivery,
    now: dt.datetime | None = None,
) -> Handover:
    """Hand the debtor's queued invoices (all, or `invoice_ids` among them) to an agency."""
    now = now or utcnow()
    lock_debtor(session, debtor_id)
    agency = session.get(Agency, agency_id)
    if agency is None or not agency.active:
        raise HandoverRefused(N_("Choose an active agency."))
    query = (
        select(CollectionEntry)
        .where(CollectionEntry.debtor_id == debtor_id, CollectionEntry.state.in_(IN_QUEUE))
        .order_by(CollectionEntry.invoice_id)
    )
    if invoice_ids is not None:
        query = query.where(CollectionEntry.invoice_id.in_(list(invoice_ids)))
    entries = list(session.scalars(query.with_for_update()))
    invoices = {
        i.id: i
        for i in session.scalars(
            select(Invoice)
            .where(
                Invoice.id.in_([e.invoice_id for e in entries]),
                Invoice.status == InvoiceStatus.OPEN.value,
                Invoice.open_cents > 0,
            )
            .with_for_update()
        )
    }
    entries = [e for e in entries if e.invoice_id in invoices]
    if not entries:
        raise HandoverRefused(N_("Nothing of this customer waits in the queue to hand over."))
    principal = [invoices[e.invoice_id] for e in entries]
    lines = [
        line
        for line in charges.charges_of_invoices(session, [i.id for i in principal])
        if line.debtor_id == debtor_id and line.status == InvoiceStatus.OPEN.value
    ]
    currencies = {i.currency for i in principal}
    if len(currencies) > 1:
        raise HandoverRefused(N_("Hand over invoices of one currency at a time."))
    handover = Handover(
        agency_id=agency.id,
        debtor_id=debtor_id,
        by=by,
        created_at=now,
        principal_cents=sum(i.open_cents for i in principal),
        currency=principal[0].currency,
        link_nonce=secrets.token_hex(16),
        link_expires_at=now + dt.timedelta(days=LINK_DAYS),
    )
    session.add(handover)
    for invoice in [*principal, *lines]:
        handover.invoices.append(
            HandoverInvoice(invoice_id=invoice.id, open_cents=invoice.open_cents)
        )
        invoice.status = InvoiceStatus.HANDED_OVER.value
    session.flush()
    for entry in entries:
        ENTRY_MOVES.check(entry.state, EntryState.HANDED_OVER)
        entry.state, entry.handover_id = EntryState.HANDED_OVER.value, handover.id
        entry.changed_by, entry.changed_at = by, now
    audit.record_each(
        session,
        by,
        "collection.handed_over",
        debtor_id,
        [i.id for i in [*principal, *lines]],
        agency=agency.name,
        handover=handover.id,
    )
    session.flush()
    dossier = delivery.build(session, handover)
    keep_dossier(handover, dossier)
    deliver(session, handover, delivery)
    return handover


def keep_dossier(handover: Handover, dossier: bytes) -> None:
    """Store the dossier as it was at hand-over (what the agency gets, however often)."""
    import hashlib

    handover.dossier = dossier
    handover.dossier_sha256 = hashlib.sha256(dossier).hexdigest()
    handover.dossier_bytes = len(dossier)


def deliver(session: Session, handover: Handover, delivery: Delivery) -> None:
    """Send the dossier the agency's way: a mail with the link, or the signed JSON push
    (a download agency gets the link from admin)."""
    agency = handover.agency
    link = delivery.link(handover)
    if agency.delivery == "email":
        expires = handover.link_expires_at.date().isoformat() if handover.link_expires_at else ""
        outbox.queue_email(
            session,
            kind="agency_dossier",
            recipient=agency.email,
            subject=f"Dossier {handover.debtor.number} - {handover.debtor.name}",
            body_text=(
                f"Dear {agency.contact_name or agency.name},\n\n"
                f"We hand over the claim on {handover.debtor.name} "
                f"(customer {handover.debtor.number}), "
                f"{handover.currency} {handover.principal_cents / 100:.2f} open.\n\n"
                f"Download the dossier (a ZIP; it works until {expires}):\n{link}\n\n"
                f"SHA-256 of the ZIP: {handover.dossier_sha256}\n"
            ),
            sender=_sender(handover.debtor.brand),
            brand_id=handover.debtor.brand_id,
            dedupe_key=f"agency-dossier:{handover.id}:{handover.link_nonce}",
        )
    elif agency.delivery == "push":
        document = delivery.json_document(session, handover)
        document["dossier_url"] = link
        document["dossier_sha256"] = handover.dossier_sha256
        push(session, agency, handover, "dossier", document)
    audit.record(
        session,
        handover.by,
        "collection.dossier_delivered",
        debtor_id=handover.debtor_id,
        handover=handover.id,
        way=agency.delivery,
    )


def push(
    session: Session, agency: Agency, handover: Handover | None, event: str, data: dict[str, object]
) -> AgencyDelivery:
    """Queue signed JSON for the agency's endpoint (posted by the worker)."""
    row = AgencyDelivery(
        agency_id=agency.id, handover_id=handover.id if handover else None, event=event, payload=""
    )
    session.add(row)
    session.flush()
    row.payload = json.dumps(
        {"id": f"agd_{row.id}", "type": event, "created": int(utcnow().timestamp()), "data": data},
        separators=(",", ":"),
        sort_keys=True,
        default=str,
    )
    return row


def new_link(handover: Handover) -> None:
    """A fresh link (the old one stops working), valid for LINK_DAYS from now."""
    handover.link_nonce = secrets.token_hex(16)
    handover.link_expires_at = utcnow() + dt.timedelta(days=LINK_DAYS)


def by_link(session: Session, handover_id: int, nonce: str, now: dt.datetime) -> Handover | None:
    """The hand-over a download link names, if the link still works (same nonce, not
    expired, the agency still has the claim)."""
    handover = session.get(Handover, handover_id)
    if handover is None or not nonce or not secrets.compare_digest(handover.link_nonce, nonce):
        return None
    if handover.state != HandoverState.ACTIVE.value:
        return None
    expires = handover.link_expires_at
    if expires is None:
        return None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    return handover if expires > now else None


# ------------------------------------------------------------------- ending
def _current(handover: Handover) -> list[HandoverInvoice]:
    return [h for h in handover.invoices if h.current]


def _back(
    session: Session,
    handover: Handover,
    parts: list[HandoverInvoice],
    note: str,
    actor: str,
    source: str,
) -> None:
    """Invoices come back from the agency: open again (reminders may apply), and in the
    queue as stopped, so only a person hands them over again."""
    now = utcnow()
    for part in parts:
        part.current = False
        invoice = part.invoice
        if invoice.status == InvoiceStatus.HANDED_OVER.value:
            invoice.status = (
                InvoiceStatus.OPEN.value if invoice.open_cents > 0 else InvoiceStatus.PAID.value
            )
        entry = session.scalar(
            select(CollectionEntry).where(CollectionEntry.invoice_id == invoice.id)
        )
        if (
            entry is not None
            and invoice.kind == InvoiceKind.INVOICE.value
            and invoice.open_cents > 0
        ):
            ENTRY_MOVES.check(entry.state, EntryState.STOPPED)
            entry.state, entry.source, entry.note = EntryState.STOPPED.value, source, note
            entry.changed_by, entry.changed_at, entry.handover_id = actor, now, None


def recall(session: Session, handover: Handover, reason: str, actor: str) -> None:
    """Take the claim back from the agency, with a reason (the agency is told)."""
    if not reason.strip():
        raise HandoverRefused(N_("Say why the claim is recalled."))
    lock_debtor(session, handover.debtor_id)
    session.refresh(handover)
    if handover.state != HandoverState.ACTIVE.value:
        raise HandoverRefused(N_("The agency no longer has this claim."))
    parts = _current(handover)
    _back(session, handover, parts, reason.strip(), actor, "returned")
    HANDOVER_MOVES.check(handover.state, HandoverState.RECALLED)
    handover.state, handover.ended_at, handover.end_reason = (
        HandoverState.RECALLED.value,
        utcnow(),
        reason.strip(),
    )
    handover.link_nonce = ""  # the download link dies with the hand-over
    audit.record_each(
        session,
        actor,
        "collection.recalled",
        handover.debtor_id,
        [p.invoice_id for p in parts],
        handover=handover.id,
        reason=reason.strip(),
    )
    _tell(session, handover, "recalled", {"reason": reason.strip()})


def give_back(
    session: Session, handover: Handover, invoice_ids: set[int], note: str, actor: str
) -> int:
    """The agency returns (part of) a claim to us; returns how many lines came back."""
    parts = [p for p in _current(handover) if p.invoice_id in invoice_ids]
    # an invoice's cost and interest lines come back with it
    claim_lines = {
        line.id for line in charges.charges_of_invoices(session, [p.invoice_id for p in parts])
    }
    parts += [p for p in _current(handover) if p.invoice_id in claim_lines and p not in parts]
    _back(session, handover, parts, note, actor, "returned")
    audit.record_each(
        session,
        actor,
        "collection.returned",
        handover.debtor_id,
        [p.invoice_id for p in parts],
        handover=handover.id,
        note=note,
    )
    if not _current(handover):
        HANDOVER_MOVES.check(handover.state, HandoverState.RETURNED)
        handover.state, handover.ended_at = HandoverState.RETURNED.value, utcnow()
        handover.end_reason, handover.link_nonce = note, ""
    return len(parts)


def settle_if_done(session: Session, handover: Handover) -> bool:
    """Close the hand-over when nothing it holds is open any more."""
    parts = _current(handover)
    if handover.state != HandoverState.ACTIVE.value or any(p.invoice.open_cents > 0 for p in parts):
        return False
    for part in parts:
        part.current = False
        if part.invoice.status == InvoiceStatus.HANDED_OVER.value:
            part.invoice.status = InvoiceStatus.PAID.value
    HANDOVER_MOVES.check(handover.state, HandoverState.CLOSED)
    handover.state, handover.ended_at = HandoverState.CLOSED.value, utcnow()
    handover.link_nonce = ""
    audit.record(
        session, "system", "collection.closed", debtor_id=handover.debtor_id, handover=handover.id
    )
    return True


def _tell(session: Session, handover: Handover, event: str, data: dict[str, object]) -> None:
    """Tell the agency what changed: a push to their endpoint, else a mail."""
    agency = handover.agency
    body = {
        "handover_id": handover.id,
        "debtor_number": handover.debtor.number,
        **data,
    }
    if agency.delivery == "push":
        push(session, agency, handover, event, body)
    elif agency.email:
        lines = "\n".join(f"{k}: {v}" for k, v in body.items())
        outbox.queue_email(
            session,
            kind="agency_notice",
            recipient=agency.email,
            subject=f"{event.capitalize()}: {handover.debtor.number} - {handover.debtor.name}",
            body_text=f"Dear {agency.contact_name or agency.name},\n\n{lines}\n",
            sender=_sender(handover.debtor.brand),
            brand_id=handover.debtor.brand_id,
        )


def _sender(brand: Brand) -> str:
    """The From of a mail to an agency: the brand whose claim it is (its sender, else its
    support address), else the default MAIL_FROM (these mails are written here, outside
    the mail package that knows the running app's settings)."""
    address = brand.sender_email or brand.support_email
    if address:
        return f"{brand.sender_name or brand.name} <{address}>"
    return Settings.mail_from


# ------------------------------------------------------------------- the portal
def active_of_invoice(session: Session, invoice_id: int) -> Handover | None:
    """The hand-over that has this invoice now, if any."""
    return session.scalar(
        select(Handover)
        .join(HandoverInvoice, HandoverInvoice.handover_id == Handover.id)
        .where(
            HandoverInvoice.invoice_id == invoice_id,
            HandoverInvoice.current.is_(True),
            Handover.state == HandoverState.ACTIVE.value,
        )
    )


def portal_may_pay(invoice: Invoice) -> bool:
    """A handed-over invoice the debtor may still pay in the portal (the agency allows it)."""
    session = object_session(invoice)
    if session is None:
        return False
    handover = active_of_invoice(session, invoice.id)
    return handover is not None and handover.agency.portal_payments


def portal_payable_ids() -> object:
    """A query of invoice ids that are handed over to an agency that lets debtors pay in
    the portal (for `payments.service.payable_query`)."""
    return (
        select(HandoverInvoice.invoice_id)
        .join(Handover, Handover.id == HandoverInvoice.handover_id)
        .join(Agency, Agency.id == Handover.agency_id)
        .where(
            HandoverInvoice.current.is_(True),
            Handover.state == HandoverState.ACTIVE.value,
            Agency.portal_payments.is_(True),
        )
    )


@dataclass(frozen=True)
class Notice:
    """What the portal tells a debtor about a claim an agency handles."""

    agency: Agency
    invoice_numbers: list[str]
    may_pay_here: bool


def notices(session: Session, debtor_id: int) -> list[Notice]:
    """The agencies that handle some of this debtor's claims now."""
    result = []
    for handover in session.scalars(
        select(Handover)
        .where(Handover.debtor_id == debtor_id, Handover.state == HandoverState.ACTIVE.value)
        .order_by(Handover.id)
    ):
        numbers = [
            p.invoice.number
            for p in handover.invoices
            if p.current and p.invoice.kind == InvoiceKind.INVOICE.value
        ]
        if numbers:
            result.append(Notice(handover.agency, numbers, handover.agency.portal_payments))
    return result


def after_portal_payment(
    session: Session, debtor_id: int, booked: Sequence[tuple[Invoice, int]], payment_ref: str
) -> int:
    """Money paid in the portal on invoices an agency handles is reported to the agency
    (and a claim with nothing left open is closed); returns how many lines were reported."""
    reported = 0
    by_handover: dict[int, tuple[Handover, list[dict[str, object]]]] = {}
    for invoice, cents in booked:
        if invoice.status not in (InvoiceStatus.HANDED_OVER.value, InvoiceStatus.PAID.value):
            continue
        handover = active_of_invoice(session, invoice.id)
        if handover is None:
            continue
        by_handover.setdefault(handover.id, (handover, []))[1].append(
            {
                "invoice": invoice.number,
                "amount_cents": cents,
                "currency": invoice.currency,
                "open_cents": invoice.open_cents,
            }
        )
    for handover, lines in by_handover.values():
        _tell(
            session,
            handover,
            "payment",
            {"payment": payment_ref, "paid_on": utcnow().date().isoformat(), "lines": lines},
        )
        audit.record(
            session,
            "system",
            "collection.payment_reported",
            debtor_id=debtor_id,
            handover=handover.id,
            payment=payment_ref,
            lines=len(lines),
        )
        settle_if_done(session, handover)
        reported += len(lines)
    return reported
