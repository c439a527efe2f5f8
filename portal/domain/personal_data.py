"""A debtor's personal data (GDPR): everything the portal holds about one debtor in one
ZIP, and erasure on request.

Export (`collect`, `to_zip`): `data.json` for machines, `overview.html` for people (the
caller renders it from the collected data), and the files: invoice PDFs the accounting
package sent and request attachments. Admin > Debtors, full admins, audited.

Erasure (`erase`) anonymises instead of deleting: the bookkeeping stays (seven years in
the Netherlands, art. 52 AWR; the invoices, payments, allocations, credit notes, costs and
amounts, with the customer and invoice numbers they are booked under, so totals still
add up), and every personal detail goes: name, addresses, phone, email addresses, what the
debtor wrote and attached, plan agreements and the IP addresses they were accepted from,
texts of messages, invoice descriptions and PDFs, the team's task notes, login tokens,
and any mention in audit details, webhook logs and API answers. Pending messages to the
debtor are cancelled, open tasks of the team too, and the debtor is marked do-not-contact.
Refused while anything is still owed either way
(open invoices, a running payment, a credit balance, a running plan): collecting a debt
or refunding a balance needs the contact data (art. 17(3)(b) and (e) GDPR).
Uploaded spreadsheets cannot be edited: retention removes them within
RETENTION_UPLOAD_HOURS. Backups age out with their own rotation (README).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import LargeBinary, Text, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from portal.domain import audit, login
from portal.domain.messaging import outbox
from portal.domain.problems import N_, Problem
from portal.models import (
    Allocation,
    ApiIdempotency,
    AuditEvent,
    Debtor,
    DebtorEmail,
    DebtorRequest,
    EmailChangeToken,
    InstalmentPlan,
    Invoice,
    InvoiceStatus,
    LoginToken,
    OutboxMessage,
    OutboxStatus,
    PayLink,
    Payment,
    PhoneFlag,
    PlanStatus,
    PrintBatch,
    PrintedLetter,
    RequestAttachment,
    RequestEvent,
    SandboxPayment,
    TemplatePreview,
    WebhookDelivery,
    WebhookEvent,
    WorkTask,
    WorkTaskEntry,
    utcnow,
)

ERASED = "[erased]"
RUNNING_PAYMENTS = ("created", "open", "pending", "authorized")
RUNNING_PLANS = (PlanStatus.PROPOSED.value, PlanStatus.ACTIVE.value)
MIN_NEEDLE = 5  # shorter values (a short name) would match other people's data too
# columns an export leaves out: secrets and hashes, which say nothing about the person
SECRET_COLUMNS = {"token_hash", "submit_token", "nonce", "checkout_url", "render_data"}
IP_KEYS = {"ip", "remote_addr", "requested_ip", "accepted_ip"}


class ErasureRefused(Problem):
    """The debtor cannot be erased now; the message says why."""


# --------------------------------------------------------------------------- export
@dataclass
class Collected:
    """What the portal holds about one debtor: `data` (JSON-ready) and `files`."""

    data: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _columns(row: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Every column of a row, JSON-ready, without binary data and secrets."""
    left_out = SECRET_COLUMNS | set(skip)
    return {
        column.key: _plain(getattr(row, column.key))
        for column in row.__table__.columns
        if column.key not in left_out and not isinstance(column.type, LargeBinary)
    }


def collect(session: Session, debtor_id: int) -> Collected:
    """Everything about debtor `debtor_id`, grouped for people and machines."""
    debtor = session.get_one(Debtor, debtor_id)
    emails = [e.email for e in debtor.emails]
    invoices = list(
        session.scalars(
            select(Invoice).where(Invoice.debtor_id == debtor_id).order_by(Invoice.invoice_date)
        )
    )
    collected = Collected(data={})
    for invoice in invoices:
        if invoice.has_original_pdf and invoice.original_pdf:
            collected.files[f"invoices/{_safe(invoice.number)}.pdf"] = invoice.original_pdf
    payments = list(
        session.scalars(
            select(Payment).where(Payment.debtor_id == debtor_id).order_by(Payment.created_at)
        )
    )
    allocations = list(
        session.scalars(
            select(Allocation)
            .where(Allocation.payment_id.in_([p.id for p in payments]))
            .order_by(Allocation.id)
        )
    )
    plans = list(
        session.scalars(
            select(InstalmentPlan)
            .where(InstalmentPlan.debtor_id == debtor_id)
            .order_by(InstalmentPlan.id)
        )
    )
    requests = list(
        session.scalars(
            select(DebtorRequest)
            .where(DebtorRequest.debtor_id == debtor_id)
            .order_by(DebtorRequest.id)
        )
    )
    request_data = []
    for request in requests:
        attachments = []
        for attachment in request.attachments:
            name = f"attachments/{request.id}-{attachment.id}-{_safe(attachment.filename)}"
            collected.files[name] = attachment.data
            attachments.append({**_columns(attachment, {"request_id"}), "file": name})
        request_data.append(
            {
                **_columns(request),
                "events": [_columns(e, {"request_id"}) for e in request.events],
                "attachments": attachments,
            }
        )
    messages = session.scalars(
        select(OutboxMessage)
        .where(_messages_of(debtor_id, emails, debtor.phone))
        .order_by(OutboxMessage.id)
    )
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.debtor_id == debtor_id).order_by(AuditEvent.id)
    )
    logins = session.scalars(
        select(LoginToken).where(LoginToken.email.in_(emails)).order_by(LoginToken.id)
    )
    collected.data = {
        "exported_at": utcnow().isoformat(),
        "debtor": {
            **_columns(debtor),
            "brand": debtor.brand.name,
            "segment": debtor.segment.name if debtor.segment else None,
        },
        "email_addresses": [_columns(e, {"debtor_id"}) for e in debtor.emails],
        "invoices": [_columns(i) for i in invoices],
        "payments": [_columns(p) for p in payments],
        "allocations": [_columns(a) for a in allocations],
        "pay_links": [
            _columns(link)
            for link in session.scalars(
                select(PayLink).where(PayLink.debtor_id == debtor_id).order_by(PayLink.id)
            )
        ],
        "payment_plans": [
            {**_columns(plan), "instalments": [_columns(i, {"plan_id"}) for i in plan.instalments]}
            for plan in plans
        ],
        "requests": request_data,
        "messages": [_columns(m) for m in messages],
        "sign_ins": [_columns(t) for t in logins],
        "history": [_columns(e) for e in events],
        "tasks": [
            {**_columns(t), "log": [_columns(e, {"task_id"}) for e in t.entries]}
            for t in session.scalars(
                select(WorkTask).where(WorkTask.debtor_id == debtor_id).order_by(WorkTask.id)
            )
        ],
        "phone_flags": [
            _columns(f)
            for f in session.scalars(select(PhoneFlag).where(PhoneFlag.debtor_id == debtor_id))
        ],
    }
    return collected


def to_zip(collected: Collected, overview_html: str) -> bytes:
    """One ZIP: data.json, overview.html and the files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json", json.dumps(collected.data, indent=2, ensure_ascii=False, default=str)
        )
        archive.writestr("overview.html", overview_html)
        for name, content in sorted(collected.files.items()):
            archive.writestr(name, content)
    return buffer.getvalue()


def _safe(name: str) -> str:
    """A file name that stays inside its folder of the ZIP."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return cleaned[:80] or "file"


def _messages_of(debtor_id: int, emails: list[str], phone: str) -> Any:
    recipients = [*emails, phone] if phone else emails
    return or_(OutboxMessage.debtor_id == debtor_id, OutboxMessage.recipient.in_(recipients))


# ---------------------------------------------------------------------------- erase
def refusal(session: Session, debtor: Debtor) -> str | None:
    """Why `debtor` cannot be erased now (a message id), or None."""
    if debtor.erased_at is not None:
        return N_("This debtor was erased already.")
    owed = session.scalar(
        select(func.count()).where(
            Invoice.debtor_id == debtor.id,
            Invoice.status.in_((InvoiceStatus.OPEN.value, InvoiceStatus.HANDED_OVER.value)),
            Invoice.open_cents != 0,
        )
    )
    if owed:
        return N_(
            "Invoices of this debtor are still open: collecting them needs the contact data. "
            "Settle, credit or cancel them first."
        )
    running = session.scalar(
        select(func.count()).where(
            Payment.debtor_id == debtor.id, Payment.status.in_(RUNNING_PAYMENTS)
        )
    )
    if running:
        return N_("A payment of this debtor is still running: wait until it has ended.")
    credit = session.scalar(
        select(func.coalesce(func.sum(Payment.unallocated_cents), 0)).where(
            Payment.debtor_id == debtor.id
        )
    )
    if credit:
        return N_("This debtor has a credit balance: refund it first.")
    plans = session.scalar(
        select(func.count()).where(
            InstalmentPlan.debtor_id == debtor.id, InstalmentPlan.status.in_(RUNNING_PLANS)
        )
    )
    if plans:
        return N_("A payment plan of this debtor is still running or proposed.")
    return None


@dataclass(frozen=True)
class Erased:
    invoices: int
    payments: int
    messages: int
    cached_pdfs: int


def erase(session: Session, debtor: Debtor, *, by: str, cache_dir: Path) -> Erased:
    """Anonymise `debtor` (see the module's docstring; the caller commits). Raises
    ErasureRefused while something is still owed."""
    reason = refusal(session, debtor)
    if reason:
        raise ErasureRefused(reason)
    now = utcnow()
    emails = sorted({e.email for e in debtor.emails} | _past_addresses(session, debtor.id))
    needles = _needles(debtor, emails)
    invoice_ids = list(session.scalars(select(Invoice.id).where(Invoice.debtor_id == debtor.id)))

    login.end_all_sessions(session, [debtor.id], by, "erased")
    session.execute(delete(LoginToken).where(LoginToken.email.in_(emails)))
    session.execute(delete(EmailChangeToken).where(EmailChangeToken.debtor_id == debtor.id))
    session.execute(delete(DebtorEmail).where(DebtorEmail.debtor_id == debtor.id))
    session.expire(debtor, ["emails"])

    messages = _erase_messages(session, debtor, emails, now)
    _erase_requests(session, debtor.id)
    _erase_tasks(session, debtor.id, by, now)
    session.execute(
        update(InstalmentPlan)
        .where(InstalmentPlan.debtor_id == debtor.id)
        .values(agreement_text="", accepted_ip="", end_reason="")
    )
    session.execute(
        update(Invoice)
        .where(Invoice.debtor_id == debtor.id)
        .values(description="", reference="", original_pdf=None, has_original_pdf=False)
        .execution_options(synchronize_session=False)
    )
    payment_refs = list(
        session.scalars(select(Payment.provider_ref).where(Payment.debtor_id == debtor.id))
    )
    session.execute(
        update(Payment)
        .where(Payment.debtor_id == debtor.id)
        .values(description="", flag="")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(SandboxPayment)
        .where(SandboxPayment.ref.in_([r for r in payment_refs if r]))
        .values(description="")
    )
    _scrub_logs(session, debtor.id, invoice_ids, needles)

    debtor.name = f"{ERASED} {debtor.number}"
    debtor.phone = debtor.address_line = debtor.postcode = debtor.city = ""
    debtor.do_not_contact = True
    debtor.contact_confirmed_at = None
    debtor.erased_at = now
    cached = 0
    for invoice_id in invoice_ids:
        for path in cache_dir.glob(f"invoice-{invoice_id}-*.pdf"):
            path.unlink(missing_ok=True)
            cached += 1
    payments = len(payment_refs)
    audit.record(
        session,
        by,
        "debtor.erased",
        debtor_id=debtor.id,
        invoices=len(invoice_ids),
        payments=payments,
        messages=messages,
    )
    return Erased(len(invoice_ids), payments, messages, cached)


def _needles(debtor: Debtor, emails: list[str]) -> list[str]:
    """Values that identify the debtor wherever they were copied to."""
    values = [debtor.name, debtor.phone, debtor.address_line, *emails]
    return sorted({v.strip() for v in values if v and len(v.strip()) >= MIN_NEEDLE}, key=len)


def _past_addresses(session: Session, debtor_id: int) -> set[str]:
    """Addresses the debtor had or asked for before: changes by admins (audit), changes
    asked for in the portal (requests, confirmation links)."""
    found: set[str] = set(
        session.scalars(
            select(EmailChangeToken.email).where(EmailChangeToken.debtor_id == debtor_id)
        )
    )
    for details in session.scalars(
        select(DebtorRequest.details).where(DebtorRequest.debtor_id == debtor_id)
    ):
        if isinstance((details or {}).get("email"), str):
            found.add(details["email"])
    for details in session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.debtor_id == debtor_id, AuditEvent.action == "admin.debtor_emails_changed"
        )
    ):
        for key in ("old", "new"):
            found.update(a for a in (details or {}).get(key, []) if isinstance(a, str))
    return found


def _erase_messages(session: Session, debtor: Debtor, emails: list[str], now: dt.datetime) -> int:
    """Texts and recipients of every message to the debtor go; what was still to be sent
    is cancelled. The rows stay: when a message was sent is part of a claim's record."""
    where = _messages_of(debtor.id, emails, debtor.phone)
    waiting = outbox.MOVES.sources(OutboxStatus.CANCELLED)  # pending or in doubt
    session.execute(
        update(OutboxMessage)
        .where(where, OutboxMessage.status.in_(waiting))
        .values(status=OutboxStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    ids = list(session.scalars(select(OutboxMessage.id).where(where)))
    if not ids:
        return 0
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            recipient=ERASED,
            subject="",
            body_text="",
            body_html="",
            last_error="",
            render_data=None,
        )
        .execution_options(synchronize_session=False)
    )
    batches = select(PrintedLetter.batch_id).where(PrintedLetter.message_id.in_(ids))
    session.execute(update(PrintBatch).where(PrintBatch.id.in_(batches)).values(pdf=None))
    return len(ids)


def _erase_requests(session: Session, debtor_id: int) -> None:
    requests = select(DebtorRequest.id).where(DebtorRequest.debtor_id == debtor_id)
    session.execute(delete(RequestAttachment).where(RequestAttachment.request_id.in_(requests)))
    session.execute(
        update(RequestEvent).where(RequestEvent.request_id.in_(requests)).values(message="")
    )
    session.execute(
        update(DebtorRequest)
        .where(DebtorRequest.debtor_id == debtor_id)
        .values(message="", details={})
        .execution_options(synchronize_session=False)
    )


def _erase_tasks(session: Session, debtor_id: int, by: str, now: dt.datetime) -> None:
    """The team's notes go, a flagged number too; open tasks are cancelled."""
    tasks = select(WorkTask.id).where(WorkTask.debtor_id == debtor_id)
    session.execute(
        update(WorkTaskEntry).where(WorkTaskEntry.task_id.in_(tasks)).values(text="", details={})
    )
    session.execute(
        update(WorkTask)
        .where(WorkTask.debtor_id == debtor_id, WorkTask.status == "open")
        .values(status="cancelled", outcome="erased", closed_at=now, closed_by=by)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(WorkTask)
        .where(WorkTask.debtor_id == debtor_id)
        .values(note="")
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(PhoneFlag).where(PhoneFlag.debtor_id == debtor_id))


def _scrub_logs(
    session: Session, debtor_id: int, invoice_ids: list[int], needles: list[str]
) -> None:
    """Audit details of the debtor (and any other mention), webhook logs, API answers
    and previews that copied a personal value."""
    # JSON columns hold non-ASCII letters escaped ("J\\u00f6rg"): look for both spellings
    in_json = sorted({form for n in needles for form in (n, json.dumps(n)[1:-1])})
    mentions = [_mentioning(cast(AuditEvent.details, Text), in_json)] if needles else []
    events = session.scalars(
        select(AuditEvent).where(
            or_(
                AuditEvent.debtor_id == debtor_id,
                AuditEvent.invoice_id.in_(invoice_ids),
                *mentions,
            )
        )
    )
    for event in events:
        scrubbed = _scrub(event.details or {}, needles, drop_ips=True)
        if scrubbed != event.details:
            event.details = scrubbed
    if not needles:
        return
    for row in session.scalars(
        select(ApiIdempotency).where(_mentioning(cast(ApiIdempotency.response, Text), in_json))
    ):
        row.response = _scrub(row.response or {}, needles)
    for webhook in session.scalars(
        select(WebhookEvent).where(_mentioning(WebhookEvent.payload, in_json))
    ):
        webhook.payload = json.dumps(
            _scrub(json.loads(webhook.payload), needles), separators=(",", ":"), sort_keys=True
        )
    session.execute(
        update(WebhookDelivery)
        .where(_mentioning(WebhookDelivery.detail, needles))
        .values(detail=ERASED)
    )
    session.execute(delete(TemplatePreview).where(_mentioning(TemplatePreview.html, needles)))


def _mentioning(column: Any, needles: list[str]) -> Any:
    """SQL: `column` holds any of `needles`."""
    return or_(*[column.contains(n, autoescape=True) for n in needles])


def _scrub(value: Any, needles: list[str], *, drop_ips: bool = False) -> Any:
    """`value` with every string that holds a needle replaced (and IP addresses left out)."""
    if isinstance(value, dict):
        return {
            key: ERASED if drop_ips and key in IP_KEYS else _scrub(item, needles, drop_ips=drop_ips)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub(item, needles, drop_ips=drop_ips) for item in value]
    if isinstance(value, str):
        lowered = value.lower()
        return ERASED if any(n.lower() in lowered for n in needles) else value
    return value
