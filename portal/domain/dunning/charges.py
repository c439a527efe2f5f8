"""Collection costs and interest become debt once every deadline a debtor was told passed.

A step that announces costs (`terms.announces_costs`) opens a `Claim` over its invoices
when the run queues it (`engine`). Each run then looks at the open claims:

- the claim's messages (every channel of the step, and a letter sent after a bounce) say
  where its period stands (`terms.period`): a message still waiting to be sent or printed
  holds everything back, a bounced one never starts a period, and the latest deadline of
  the delivered ones must have passed;
- then the costs are booked once, over the principal open at that moment
  (`terms.costs`), as a line of kind `costs`;
- interest (`terms.interest_rule`) accrues from the day after each due date and is booked
  as numbered top-up lines of kind `interest`: what accrued since the last booking, at
  most every `terms.TOPUP_DAYS` days. A half-year without a rate holds the booking back
  (the claim says which, for the dashboard) and the next run after an admin adds it books
  the whole period, so interest is never lost.

Lines are invoices of their own kind linked to their claim, so the portal shows them, later
reminders and pay-links include them, and a payment settles them first (art. 6:44 BW).
Their numbers carry the claim's lead message id, and the unique (brand, number) key makes a
second run add nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.domain import audit
from portal.domain.dunning import interest, terms
from portal.models import (
    CHARGE_KINDS,
    Claim,
    ClaimInvoice,
    ClaimMessage,
    Debtor,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    OutboxMessage,
    PrintBatch,
    PrintedLetter,
)

log = logging.getLogger(__name__)
COSTS_PREFIX = "COSTS-"
INTEREST_PREFIX = "INTEREST-"


@dataclass
class ChargeResult:
    """What a booking run did."""

    claims: int = 0  # claims whose costs were booked now
    costs_cents: int = 0
    interest_cents: int = 0
    missing_rates: set[tuple[str, dt.date]] = field(default_factory=set)
    undelivered: int = 0


def _key(claim: Claim) -> str:
    return str(claim.lead_message_id) if claim.lead_message_id else f"C{claim.id}"


def interest_number(claim: Claim, seq: int) -> str:
    """The number of a claim's `seq`-th interest line (the first keeps the old form)."""
    base = f"{INTEREST_PREFIX}{_key(claim)}"
    return base if seq == 1 else f"{base}-{seq}"


def book(session: Session, day: dt.date, timezone: str = terms.DEFAULT_TZ) -> ChargeResult:
    """Book what every open claim owes on `day`; the caller commits."""
    result = ChargeResult()
    claims = list(
        session.scalars(
            select(Claim)
            .where(Claim.closed.is_(False))
            .options(joinedload(Claim.debtor).joinedload(Debtor.brand))
            .order_by(Claim.id)
        )
    )
    if not claims:
        return result
    ids = [c.id for c in claims]
    invoices = _invoices_of(session, ids)
    messages = _messages_of(session, ids, timezone)
    tables: dict[str, dict[dt.date, int]] = {}
    for claim in claims:
        _book_claim(session, claim, day, invoices[claim.id], messages[claim.id], tables, result)
    session.flush()
    return result


def _invoices_of(session: Session, claim_ids: list[int]) -> dict[int, list[Invoice]]:
    found: dict[int, list[Invoice]] = defaultdict(list)
    for start in range(0, len(claim_ids), 5000):
        rows = session.execute(
            select(ClaimInvoice.claim_id, Invoice)
            .join(Invoice, Invoice.id == ClaimInvoice.invoice_id)
            .where(ClaimInvoice.claim_id.in_(claim_ids[start : start + 5000]))
            .order_by(Invoice.due_date, Invoice.id)
        )
        for claim_id, invoice in rows:
            found[claim_id].append(invoice)
    return found


def _messages_of(
    session: Session, claim_ids: list[int], timezone: str
) -> dict[int, list[terms.Sent]]:
    found: dict[int, list[terms.Sent]] = defaultdict(list)
    for start in range(0, len(claim_ids), 5000):
        rows = session.execute(
            select(
                ClaimMessage.claim_id,
                OutboxMessage.channel,
                OutboxMessage.status,
                OutboxMessage.sent_at,
                PrintBatch.printed_on,
            )
            .join(OutboxMessage, OutboxMessage.id == ClaimMessage.message_id)
            .outerjoin(PrintedLetter, PrintedLetter.message_id == OutboxMessage.id)
            .outerjoin(PrintBatch, PrintBatch.id == PrintedLetter.batch_id)
            .where(ClaimMessage.claim_id.in_(claim_ids[start : start + 5000]))
        )
        for claim_id, channel, status, sent_at, printed_on in rows:
            on = None
            if status in (terms.DELIVERED, terms.KEPT_LOCALLY):  # a letter: from its print day
                on = printed_on if channel == "letter" else terms.delivered_on(sent_at, timezone)
            found[claim_id].append(terms.Sent(channel, status, on))
    return found


def _book_claim(
    session: Session,
    claim: Claim,
    day: dt.date,
    invoices: list[Invoice],
    messages: list[terms.Sent],
    tables: dict[str, dict[dt.date, int]],
    result: ChargeResult,
) -> None:
    open_now = [
        i
        for i in invoices
        if i.status == InvoiceStatus.OPEN.value and i.open_cents > 0 and i.kind == "invoice"
    ]
    if not open_now:
        claim.closed = True  # paid, cancelled or handed over: nothing more accrues here
        return
    if any(i.held_on(day) for i in open_now):
        return  # disputed, promised or in a plan: not now (interest is caught up later)
    debtor = claim.debtor
    calendar = terms.calendar_of(debtor.country, debtor.brand.country)
    period = terms.period(messages, calendar)
    claim.undelivered = period.undelivered
    result.undelivered += period.undelivered
    if not period.passed(day):
        return
    principal = sum(i.open_cents for i in open_now)
    if claim.costs_booked_on is None:
        costs = terms.costs(claim.regime, principal, len(open_now))
        if costs > 0:
            number = COSTS_PREFIX + _key(claim)
            _add_line(session, claim, open_now, InvoiceKind.COSTS, number, costs, day)
            result.costs_cents += costs
            result.claims += 1
        claim.costs_booked_on = day
    rule = terms.interest_rule(claim.regime)
    if rule is None:
        return
    since = claim.interest_until
    if since is not None and not claim.waiting_for_rate and (day - since).days < terms.TOPUP_DAYS:
        return  # booked recently: the next top-up comes with the next period
    table = tables.setdefault(rule.table, interest.rates(session, rule.table))
    try:
        owed = sum(_accrued(i, since, day, table, rule) for i in open_now)
    except interest.MissingRate as exc:
        claim.waiting_for_rate = f"{exc.kind}:{exc.half_year.isoformat()}"
        result.missing_rates.add((exc.kind, exc.half_year))
        log.info("claim %s: interest waits for a rate: %s", claim.id, exc)
        return
    claim.waiting_for_rate = ""
    claim.interest_until = day
    if owed > 0:
        claim.interest_lines += 1
        number = interest_number(claim, claim.interest_lines)
        _add_line(session, claim, open_now, InvoiceKind.INTEREST, number, owed, day)
        result.interest_cents += owed


def _accrued(
    invoice: Invoice,
    since: dt.date | None,
    day: dt.date,
    table: dict[dt.date, int],
    rule: terms.InterestRule,
) -> int:
    """Interest on the principal open now for the days after `since` up to `day`, with the
    yearly additions counted from the due date as the law counts them."""
    start = invoice.due_date  # statutory_interest counts from the day after
    whole = interest.statutory_interest(
        invoice.open_cents, start, day, table, rule.table, rule.compounds
    )
    if since is None or since <= start:
        return whole
    before = interest.statutory_interest(
        invoice.open_cents, start, since, table, rule.table, rule.compounds
    )
    return max(whole - before, 0)


def _add_line(
    session: Session,
    claim: Claim,
    invoices: list[Invoice],
    kind: InvoiceKind,
    number: str,
    cents: int,
    day: dt.date,
) -> None:
    first = invoices[0]
    numbers = ", ".join(i.number for i in invoices)
    session.add(
        Invoice(
            brand_id=first.brand_id,
            debtor_id=first.debtor_id,
            number=number,
            kind=kind.value,
            invoice_date=day,
            due_date=day,
            currency=first.currency,
            total_cents=cents,
            open_cents=cents,
            reference=numbers[:80],
            description=claim.opened_on.isoformat(),  # the letter's day, shown with the line
            claim_id=claim.id,
        )
    )
    audit.record_each(
        session,
        "system",
        f"dunning.{kind.value}_added",
        first.debtor_id,
        [i.id for i in invoices],
        amount_cents=cents,
        currency=first.currency,
        line=number,
    )


def open_charges(session: Session, debtor_id: int) -> list[Invoice]:
    """The debtor's open cost and interest lines, oldest first."""
    return open_charges_of(session, {debtor_id}).get(debtor_id, [])


def open_charges_of(session: Session, debtor_ids: set[int]) -> dict[int, list[Invoice]]:
    """Open cost and interest lines of several debtors, oldest first, in one query."""
    found: dict[int, list[Invoice]] = {}
    for line in session.scalars(
        select(Invoice)
        .where(
            Invoice.debtor_id.in_(debtor_ids),
            Invoice.kind.in_(CHARGE_KINDS),
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.open_cents > 0,
        )
        .order_by(Invoice.due_date, Invoice.id)
    ):
        found.setdefault(line.debtor_id, []).append(line)
    return found


def charges_of_invoices(session: Session, invoice_ids: list[int]) -> list[Invoice]:
    """The open cost and interest lines of the claims these invoices belong to (what art.
    6:44 BW settles before their principal), oldest first."""
    if not invoice_ids:
        return []
    claims = select(ClaimInvoice.claim_id).where(ClaimInvoice.invoice_id.in_(invoice_ids))
    return list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.claim_id.in_(claims),
                Invoice.kind.in_(CHARGE_KINDS),
                Invoice.status == InvoiceStatus.OPEN.value,
                Invoice.open_cents > 0,
            )
            .order_by(Invoice.due_date, Invoice.id)
        )
    )


def undelivered_claims(session: Session, debtor_id: int | None = None) -> list[Claim]:
    """Open claims none of whose messages reached the debtor (for admin to send by post)."""
    query = select(Claim).where(Claim.closed.is_(False), Claim.undelivered.is_(True))
    if debtor_id is not None:
        query = query.where(Claim.debtor_id == debtor_id)
    return list(session.scalars(query.order_by(Claim.id)))


def waiting_rates(session: Session) -> list[tuple[str, dt.date]]:
    """(table, half-year) pairs whose missing rate holds interest back, oldest first."""
    found = set()
    for (raw,) in session.execute(
        select(Claim.waiting_for_rate)
        .where(Claim.closed.is_(False), Claim.waiting_for_rate != "")
        .distinct()
    ):
        kind, _sep, day = raw.partition(":")
        found.add((kind, dt.date.fromisoformat(day)))
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


def settle_first(session: Session, paid: dict[int, int], actor: str) -> dict[int, int]:
    """Money paid elsewhere on invoices (`paid`: invoice id → cents, as an import reports
    it): art. 6:44 BW settles the open costs, then the interest of each invoice's claims
    before its principal. Returns per invoice what is left for the principal; invoices
    without claims keep their whole amount. The caller lowers the principal."""
    left = dict(paid)
    ids = [i for i, cents in paid.items() if cents > 0]
    with_claims: set[int] = set()
    for start in range(0, len(ids), 5000):
        with_claims.update(
            session.scalars(
                select(ClaimInvoice.invoice_id).where(
                    ClaimInvoice.invoice_id.in_(ids[start : start + 5000])
                )
            )
        )
    for invoice_id in sorted(with_claims):
        lines = charges_of_invoices(session, [invoice_id])
        lines.sort(key=lambda line: (line.kind != InvoiceKind.COSTS.value, line.due_date, line.id))
        for line in lines:
            take = min(left[invoice_id], line.open_cents)
            if take <= 0:
                break
            line.open_cents -= take
            if line.open_cents == 0:
                line.status = InvoiceStatus.PAID.value
            left[invoice_id] -= take
            audit.record(
                session,
                actor,
                "payment.settled_elsewhere",
                debtor_id=line.debtor_id,
                invoice_id=line.id,
                amount_cents=take,
                currency=line.currency,
                paid_on=invoice_id,
            )
    session.flush()
    return left
