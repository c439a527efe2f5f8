"""The dossier of a hand-over: one ZIP with everything an agency needs to collect.

- `summary.pdf`: who, what, how much, costs and interest with how they were computed, the
  timeline (long lists cut at the `*_IN_PDF` limits, saying so; all rows are in the xlsx
  and the JSON);
- `invoices.xlsx`: invoices and payments (through the formula guard of `sheets.py`);
- `invoices/<number>.pdf`: the invoice PDFs (the accounting package's originals when
  present, else the portal's copy);
- `messages/<id>-<kind>.txt|.html`: every message exactly as sent, and in the JSON its
  date, channel, delivery status, and the proof that the 14-day letter was delivered
  (`claims[].delivery`);
- `dossier.json`: all of it, machine-readable (schema `betaalportaal.dossier/1`, README).

`collect` gathers the JSON document in a handful of queries (a debtor with thousands of
messages stays quick); `build` writes the ZIP.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.domain import sheets
from portal.domain.collection.models import Handover
from portal.domain.dunning import interest, terms
from portal.domain.personal_data import _messages_of, _safe
from portal.models import (
    Allocation,
    AuditEvent,
    Claim,
    ClaimInvoice,
    ClaimMessage,
    Debtor,
    DebtorRequest,
    InstalmentPlan,
    Invoice,
    InvoiceKind,
    OutboxMessage,
    Payment,
    PrintBatch,
    PrintedLetter,
    RequestKind,
)

SCHEMA = "betaalportaal.dossier/1"
# the summary PDF lists so many rows of each long list (WeasyPrint lays out some 15
# pages a second); all of them are in invoices.xlsx and dossier.json
TIMELINE_IN_PDF = 150
MESSAGES_IN_PDF = 150
INVOICES_IN_PDF = 250


def _d(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def collect(session: Session, handover: Handover, today: dt.date) -> dict[str, Any]:
    """The dossier as one JSON-ready document."""
    debtor: Debtor = session.scalars(
        select(Debtor).where(Debtor.id == handover.debtor_id).options(selectinload(Debtor.emails))
    ).one()
    brand = debtor.brand
    handed = {p.invoice_id for p in handover.invoices}
    invoices = list(
        session.scalars(
            select(Invoice)
            .where(Invoice.debtor_id == debtor.id)
            .order_by(Invoice.invoice_date, Invoice.id)
        )
    )
    by_id = {i.id: i for i in invoices}
    payments = list(
        session.scalars(
            select(Payment)
            .where(Payment.debtor_id == debtor.id)
            .order_by(Payment.created_at, Payment.id)
        )
    )
    allocations: dict[int, list[Allocation]] = defaultdict(list)
    for allocation in session.scalars(
        select(Allocation)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Payment.debtor_id == debtor.id)
        .order_by(Allocation.id)
    ):
        allocations[allocation.payment_id].append(allocation)
    emails = [e.email for e in debtor.emails]
    messages = list(
        session.scalars(
            select(OutboxMessage)
            .where(_messages_of(debtor.id, emails, debtor.phone))
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )
    printed = {
        letter.message_id: batch
        for letter, batch in session.execute(
            select(PrintedLetter, PrintBatch)
            .join(PrintBatch, PrintBatch.id == PrintedLetter.batch_id)
            .where(PrintedLetter.message_id.in_([m.id for m in messages if m.channel == "letter"]))
        )
    }
    messages_by_id = {m.id: m for m in messages}
    requests = list(
        session.scalars(
            select(DebtorRequest)
            .where(DebtorRequest.debtor_id == debtor.id)
            .options(selectinload(DebtorRequest.events))
            .order_by(DebtorRequest.id)
        )
    )
    plans = list(
        session.scalars(
            select(InstalmentPlan)
            .where(InstalmentPlan.debtor_id == debtor.id)
            .order_by(InstalmentPlan.id)
        )
    )
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.debtor_id == debtor.id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )
    charged: dict[str, list[int]] = defaultdict(list)  # cost line -> invoices it was over
    for e in events:
        if e.action == "dunning.costs_added" and e.invoice_id is not None:
            charged[str((e.details or {}).get("line", ""))].append(e.invoice_id)
    claims = _claims(session, debtor, by_id, messages_by_id, printed, today, charged)

    def invoice_row(i: Invoice) -> dict[str, Any]:
        return {
            "number": i.number,
            "kind": i.kind,
            "invoice_date": _d(i.invoice_date),
            "due_date": _d(i.due_date),
            "currency": i.currency,
            "total_cents": i.total_cents,
            "open_cents": i.open_cents,
            "status": i.status,
            "reference": i.reference,
            "description": i.description,
            "handed_over": i.id in handed,
            "file": f"invoices/{_safe(i.number)}.pdf"
            if i.kind == InvoiceKind.INVOICE.value
            else None,
            "original_pdf": i.has_original_pdf,
        }

    principal = [i for i in invoices if i.id in handed and i.kind == InvoiceKind.INVOICE.value]
    charges = [i for i in invoices if i.id in handed and i.kind in ("costs", "interest")]
    return {
        "schema": SCHEMA,
        "made_at": _d(handover.created_at),
        "handover": {
            "id": handover.id,
            "agency": handover.agency.name,
            "handed_over_at": _d(handover.created_at),
            "by": handover.by,
            "currency": handover.currency,
            "principal_cents": sum(i.open_cents for i in principal),
            "costs_cents": sum(i.open_cents for i in charges if i.kind == "costs"),
            "interest_cents": sum(i.open_cents for i in charges if i.kind == "interest"),
            "total_cents": sum(p.open_cents for p in handover.invoices),
            "debtor_may_pay_in_portal": handover.agency.portal_payments,
        },
        "creditor": {
            "name": brand.name,
            "enterprise_number": brand.enterprise_number,
            "vat_number": brand.vat_number,
            "address": brand.address,
            "country": brand.country,
            "iban": brand.iban,
            "email": brand.support_email,
            "phone": brand.support_phone,
        },
        "debtor": {
            "number": debtor.number,
            "name": debtor.name,
            "kind": debtor.kind,
            "language": debtor.language,
            "address_line": debtor.address_line,
            "postcode": debtor.postcode,
            "city": debtor.city,
            "country": debtor.country,
            "phone": debtor.phone,
            "emails": [
                {
                    "email": e.email,
                    "bouncing_since": _d(e.bouncing_since),
                    "bounce_reason": e.bounce_reason,
                }
                for e in debtor.emails
            ],
            "contact_confirmed_at": _d(debtor.contact_confirmed_at),
            "do_not_contact": debtor.do_not_contact,
            "segment": debtor.segment.name if debtor.segment else None,
        },
        "invoices": [invoice_row(i) for i in invoices],
        "payments": [
            {
                "id": p.public_id,
                "provider": p.provider,
                "test_mode": p.test_mode,
                "method": p.method,
                "status": p.status,
                "currency": p.currency,
                "amount_cents": p.amount_cents,
                "received_cents": p.received_cents,
                "refunded_cents": p.refunded_cents,
                "charged_back_cents": p.charged_back_cents,
                "created_at": _d(p.created_at),
                "paid_at": _d(p.paid_at),
                "allocations": [
                    {
                        "invoice": by_id[a.invoice_id].number if a.invoice_id in by_id else None,
                        "amount_cents": a.amount_cents,
                        "reversed_cents": a.reversed_cents,
                    }
                    for a in allocations.get(p.id, [])
                ],
            }
            for p in payments
        ],
        "claims": claims,
        "messages": [_message(m, printed.get(m.id)) for m in messages],
        "requests": [
            {
                "id": r.id,
                "kind": r.kind,
                "state": r.state,
                "invoice": by_id[r.invoice_id].number if r.invoice_id in by_id else None,
                "reason": r.reason,
                "message": r.message,
                "promise_date": _d(r.promise_date),
                "promise_broken": _broken(r, by_id, today),
                "details": r.details,
                "outcome": r.outcome,
                "created_at": _d(r.created_at),
                "events": [
                    {"at": _d(e.at), "actor": e.actor, "action": e.action, "message": e.message}
                    for e in r.events
                ],
            }
            for r in requests
        ],
        "plans": [
            {
                "id": plan.id,
                "status": plan.status,
                "frequency": plan.frequency,
                "currency": plan.currency,
                "total_cents": plan.total_cents,
                "agreement_text": plan.agreement_text,
                "accepted_at": _d(plan.accepted_at),
                "ended_at": _d(plan.ended_at),
                "end_reason": plan.end_reason,
                "created_at": _d(plan.created_at),
                "instalments": [
                    {
                        "due_date": _d(i.due_date),
                        "seq": i.seq,
                        "cents": i.cents,
                        "paid_cents": i.paid_cents,
                        "paid_at": _d(i.paid_at),
                    }
                    for i in plan.instalments
                ],
            }
            for plan in plans
        ],
        "breaches": [
            {"at": _d(e.at), "action": e.action, "details": e.details}
            for e in events
            if e.action in ("plan.breached",)
        ],
        "timeline": [
            {
                "at": _d(e.at),
                "actor": e.actor,
                "action": e.action,
                "invoice": by_id[e.invoice_id].number if e.invoice_id in by_id else None,
                "details": e.details,
            }
            for e in events
        ],
    }


def _broken(r: DebtorRequest, by_id: dict[int, Invoice], today: dt.date) -> bool:
    """A promise whose day passed while the invoice stayed unpaid and the promise open."""
    invoice = by_id.get(r.invoice_id) if r.invoice_id else None
    return (
        r.kind == RequestKind.PROMISE.value
        and r.state in ("open", "answered")
        and r.promise_date is not None
        and r.promise_date < today
        and invoice is not None
        and invoice.open_cents > 0
    )


def _message(m: OutboxMessage, batch: PrintBatch | None) -> dict[str, Any]:
    delivered = terms.delivered_on(m.sent_at) if m.status in ("sent", "local") else None
    if batch is not None:
        delivered = None
    return {
        "id": m.id,
        "kind": m.kind,
        "channel": m.channel,
        "recipient": m.recipient,
        "subject": m.subject,
        "status": m.status,
        "created_at": _d(m.created_at),
        "sent_at": _d(m.sent_at),
        "delivered_on": _d(delivered),
        "printed_on": _d(batch.printed_on) if batch is not None else None,
        "attempts": m.attempts,
        "last_error": m.last_error,
        "message_id_header": f"<outbox-{m.id}@betaalportaal>",
        "text": m.body_text,
        "html": m.body_html,
        "written_when_sent": bool(m.render_key) and not m.body_text,
        "files": _message_files(m),
    }


def _message_files(m: OutboxMessage) -> list[str]:
    names = []
    if m.body_text:
        names.append(f"messages/{m.id}-{_safe(m.kind)}.txt")
    if m.body_html:
        names.append(f"messages/{m.id}-{_safe(m.kind)}.html")
    return names


def _claims(
    session: Session,
    debtor: Debtor,
    by_id: dict[int, Invoice],
    messages: dict[int, OutboxMessage],
    printed: dict[int, PrintBatch],
    today: dt.date,
    charged: dict[str, list[int]],
) -> list[dict[str, Any]]:
    """Each claim (a step that announced costs): its invoices, the proof its messages were
    delivered and the deadline they stated, and how costs and interest were computed."""
    claims = list(
        session.scalars(select(Claim).where(Claim.debtor_id == debtor.id).order_by(Claim.id))
    )
    if not claims:
        return []
    ids = [c.id for c in claims]
    principal: dict[int, list[int]] = defaultdict(list)
    for claim_id, invoice_id in session.execute(
        select(ClaimInvoice.claim_id, ClaimInvoice.invoice_id).where(ClaimInvoice.claim_id.in_(ids))
    ):
        principal[claim_id].append(invoice_id)
    told: dict[int, list[int]] = defaultdict(list)
    for claim_id, message_id in session.execute(
        select(ClaimMessage.claim_id, ClaimMessage.message_id).where(ClaimMessage.claim_id.in_(ids))
    ):
        told[claim_id].append(message_id)
    calendar = terms.calendar_of(debtor.country, debtor.brand.country)
    result = []
    for claim in claims:
        lines = [i for i in by_id.values() if i.claim_id == claim.id]
        invoices = [by_id[i] for i in principal[claim.id] if i in by_id]
        base = sum(i.total_cents for i in invoices if i.kind == InvoiceKind.INVOICE.value)
        delivery = []
        sent: list[terms.Sent] = []
        told_ids = set(told[claim.id])
        if claim.lead_message_id is not None:
            told_ids.add(claim.lead_message_id)
        for message_id in sorted(told_ids):
            m = messages.get(message_id)
            if m is None:
                continue
            batch = printed.get(m.id)
            sent_on = batch.printed_on if batch is not None else terms.delivered_on(m.sent_at)
            if m.channel == "letter" and batch is None:
                sent_on = None
            sent.append(terms.Sent(m.channel, m.status, sent_on))
            delivery.append(
                {
                    "message": m.id,
                    "channel": m.channel,
                    "recipient": m.recipient,
                    "status": m.status,
                    "sent_at": _d(m.sent_at),
                    "printed_on": _d(batch.printed_on) if batch is not None else None,
                    "received_on": _d(terms.received_on(m.channel, sent_on, calendar))
                    if sent_on
                    else None,
                    "deadline": _d(terms.deadline(m.channel, sent_on, calendar))
                    if sent_on
                    else None,
                    "delivered": m.status in ("sent", "local") or batch is not None,
                }
            )
        period = terms.period(sent, calendar)
        costs = [i for i in lines if i.kind == InvoiceKind.COSTS.value]
        # the costs were computed over the invoices still open when they were booked
        over = [
            by_id[i] for c in costs for i in charged.get(c.number, []) if i in by_id
        ] or invoices
        over_cents = sum(i.total_cents for i in over if i.kind == InvoiceKind.INVOICE.value)
        interest_lines = [i for i in lines if i.kind == InvoiceKind.INTEREST.value]
        rule = terms.interest_rule(claim.regime)
        rates = interest.rates(session, rule.table) if rule else {}
        result.append(
            {
                "id": claim.id,
                "regime": claim.regime,
                "step": claim.step.kind,
                "opened_on": _d(claim.opened_on),
                "invoices": [i.number for i in invoices],
                "principal_cents": base,
                "delivery": delivery,
                "deadline": _d(period.last_day),
                "deadline_passed": period.passed(today),
                "undelivered": period.undelivered,
                "costs": {
                    "booked_on": _d(claim.costs_booked_on),
                    "cents": sum(i.total_cents for i in costs),
                    "lines": [i.number for i in costs],
                    "over": [i.number for i in over],
                    "how": _costs_how(claim.regime, over_cents, len(over)),
                },
                "interest": {
                    "booked_through": _d(claim.interest_until),
                    "cents": sum(i.total_cents for i in interest_lines),
                    "lines": [i.number for i in interest_lines],
                    "how": (
                        f"statutory interest ({rule.table}), from the day after each due date"
                        f" on the principal open, {_compounding(rule.compounds)};"
                        " booked after every deadline told had passed"
                        if rule
                        else "no statutory interest for this regime"
                    ),
                    "rates": [
                        {"from": _d(day), "percent": bp / 100} for day, bp in sorted(rates.items())
                    ],
                    "waiting_for_rate": claim.waiting_for_rate,
                },
            }
        )
    return result


def _compounding(compounds: bool) -> str:
    return "compounded yearly" if compounds else "simple"


def _costs_how(regime: str, principal: int, count: int) -> str:
    """The costs rule in words, with the figure it gives over the claim's principal."""
    cents = terms.costs(regime, principal, count)
    rule = {
        "nl_b2c": "WIK (Besluit vergoeding voor buitengerechtelijke incassokosten): 15% of the"
        " first 2,500, 10% of the next 2,500, 5% of the next 5,000, 1% of the next 190,000,"
        " 0.5% above; at least 40.00, at most 6,775.00; once over the combined principal",
        "nl_b2b": "WIK scale (or the contract), once over the combined principal",
        "be_b2c": "Book XIX of the Belgian Code of Economic Law: fixed compensation (20.00 up"
        " to 150.00; 30.00 + 10% between 150.01 and 500.00; 65.00 + 5% above 500.00, at most"
        " 2,000.00)",
        "be_b2b": "fixed compensation of the law of 2 August 2002 (at least 40.00)",
    }.get(regime, regime)
    return f"{rule}: {principal / 100:.2f} gives {cents / 100:.2f}"


# ------------------------------------------------------------------------ files
def xlsx(document: dict[str, Any]) -> bytes:
    """Invoices and payments as a workbook (dates and amounts as values; no formula from
    anyone's text: `sheets.xlsx_row`)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Invoices"
    heads = [
        "number",
        "kind",
        "invoice_date",
        "due_date",
        "currency",
        "total",
        "open",
        "status",
        "handed_over",
        "reference",
        "description",
    ]
    ws.append(heads)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i in document["invoices"]:
        ws.append(
            sheets.xlsx_row(
                ws,
                [
                    i["number"],
                    i["kind"],
                    dt.date.fromisoformat(i["invoice_date"]),
                    dt.date.fromisoformat(i["due_date"]),
                    i["currency"],
                    i["total_cents"] / 100,
                    i["open_cents"] / 100,
                    i["status"],
                    "yes" if i["handed_over"] else "no",
                    i["reference"],
                    i["description"],
                ],
            )
        )
    pay = wb.create_sheet("Payments")
    pay.append(
        [
            "payment",
            "provider",
            "method",
            "status",
            "paid_at",
            "currency",
            "received",
            "refunded",
            "invoice",
            "allocated",
            "reversed",
        ]
    )
    for cell in pay[1]:
        cell.font = Font(bold=True)
    for p in document["payments"]:
        for a in p["allocations"] or [{"invoice": "", "amount_cents": 0, "reversed_cents": 0}]:
            pay.append(
                sheets.xlsx_row(
                    pay,
                    [
                        p["id"],
                        p["provider"],
                        p["method"] or "",
                        p["status"],
                        p["paid_at"] or "",
                        p["currency"],
                        p["received_cents"] / 100,
                        (p["refunded_cents"] + p["charged_back_cents"]) / 100,
                        a["invoice"] or "",
                        a["amount_cents"] / 100,
                        a["reversed_cents"] / 100,
                    ],
                )
            )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def build(
    session: Session,
    handover: Handover,
    today: dt.date,
    summary_pdf: Callable[[dict[str, Any]], bytes],
    invoice_pdf: Callable[[Invoice], bytes],
) -> bytes:
    """The dossier ZIP (see the module's docstring). `summary_pdf` renders the summary
    from the document; `invoice_pdf` gives an invoice's PDF (the original when present)."""
    document = collect(session, handover, today)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summary.pdf", summary_pdf(document))
        archive.writestr("invoices.xlsx", xlsx(document))
        wanted = {i["number"] for i in document["invoices"] if i["file"]}
        for invoice in session.scalars(
            select(Invoice)
            .where(Invoice.debtor_id == handover.debtor_id, Invoice.number.in_(wanted))
            .order_by(Invoice.id)
        ):
            archive.writestr(f"invoices/{_safe(invoice.number)}.pdf", invoice_pdf(invoice))
        for message in document["messages"]:
            for name in message["files"]:
                archive.writestr(
                    name, message["html"] if name.endswith(".html") else message["text"]
                )
        archive.writestr(
            "dossier.json", json.dumps(document, indent=1, ensure_ascii=False, default=str)
        )
    return buffer.getvalue()


@dataclass(frozen=True)
class PdfLists:
    """What the summary PDF lists: the handed-over lines (oldest due first), the newest
    messages and events, and how many of each it leaves to the xlsx and JSON."""

    invoices: list[dict[str, Any]]
    invoices_left: int
    messages: list[dict[str, Any]]
    messages_left: int
    timeline: list[dict[str, Any]]
    timeline_left: int


def for_pdf(document: dict[str, Any]) -> PdfLists:
    """The rows the summary PDF shows (see PdfLists)."""
    handed = sorted(
        (i for i in document["invoices"] if i["handed_over"]),
        key=lambda i: (i["due_date"], i["number"]),
    )
    messages, timeline = document["messages"], document["timeline"]
    return PdfLists(
        invoices=handed[:INVOICES_IN_PDF],
        invoices_left=len(document["invoices"]) - len(handed[:INVOICES_IN_PDF]),
        messages=messages[-MESSAGES_IN_PDF:],
        messages_left=max(len(messages) - MESSAGES_IN_PDF, 0),
        timeline=timeline[-TIMELINE_IN_PDF:],
        timeline_left=max(len(timeline) - TIMELINE_IN_PDF, 0),
    )
