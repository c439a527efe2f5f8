"""Debtor requests: disputes, promises to pay, questions and contact changes.

A request moves through one table of allowed states (`MOVES`, a `states.StateTable`);
anything else raises `IllegalTransition`. Disputes and promises hold the invoice's
reminders (`holds.pause`); the admin's answer ends the hold again. Mails go through a
`Notifier` (mails.py) that writes them to the outbox in the same transaction. A plan
request would be one more `RequestKind` with its own create function; the state table
stays the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.domain import audit, ledger, login, phones, tokens
from portal.domain.dunning import holds
from portal.domain.params import page_number
from portal.domain.problems import N_, Problem
from portal.domain.states import IllegalTransition, StateTable
from portal.models import (
    DISPUTE_REASONS,
    Debtor,
    DebtorEmail,
    DebtorRequest,
    EmailChangeToken,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    RequestAttachment,
    RequestEvent,
    RequestKind,
    RequestState,
    utcnow,
)

PROMISE_MAX_DAYS = 30  # a promise to pay may name a day at most this far ahead
# How often a debtor may pause an invoice's reminders on their own word (README, Requests).
# Two promises of at most 30 days each give up to about two months; a dispute pauses until
# an admin decides it, so only the first dispute of an invoice does. Later ones still reach
# the inbox, but reminders continue until an admin decides (and may pause them).
PROMISES_THAT_PAUSE = 2
DISPUTES_THAT_PAUSE = 1
MAX_ATTACHMENT = 5 * 1024 * 1024  # bytes
MAX_MESSAGE = 4000  # characters
EMAIL_CONFIRM_MINUTES = 24 * 60  # how long the confirmation link of a new address works

S = RequestState
MOVES = StateTable(
    "request",
    {
        S.OPEN: {S.ANSWERED, S.RESOLVED, S.REJECTED},
        S.ANSWERED: {S.OPEN, S.RESOLVED, S.REJECTED},
        S.RESOLVED: (),
        S.REJECTED: (),
    },
)
OPEN_STATES = (S.OPEN.value, S.ANSWERED.value)
DISPUTE_OUTCOMES = ("credit", "cancel", "uphold")

# magic bytes of the files we accept, judged by content (never by name or header)
SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


class ChangedMeanwhile(Exception):
    """Someone else acted on the request after the admin opened it (their page is stale)."""


class RequestRefused(Problem):
    """The request cannot be made or handled as asked; the message says why."""


class Notifier(Protocol):
    """Writes the mails of requests to the outbox (mails.RequestMails)."""

    def update(self, session: Session, request: DebtorRequest, text: str) -> None: ...

    def email_confirm(
        self, session: Session, request: DebtorRequest, token: EmailChangeToken
    ) -> None: ...

    def email_changed(self, session: Session, debtor: Debtor, addresses: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def move(session: Session, request: DebtorRequest, new: str, actor: str, message: str = "") -> bool:
    """Move `request` to state `new` through the table; False when it is already there."""
    if new == request.state:
        return False
    MOVES.check(request.state, new)
    request.state = new
    if new in (S.RESOLVED, S.REJECTED):
        request.closed_at = utcnow()
    request.events.append(RequestEvent(actor=actor, action="state", state=new, message=message))
    return True


def attachment_type(data: bytes) -> str:
    """The MIME type of an accepted file, judged by its first bytes; raises RequestRefused."""
    if not data:
        raise RequestRefused(N_("The file is empty."))
    if len(data) > MAX_ATTACHMENT:
        raise RequestRefused(N_("The file is larger than 5 MB."))
    for magic, mime in SIGNATURES:
        if data.startswith(magic):
            return mime
    raise RequestRefused(N_("Only PDF, JPEG and PNG files can be added."))


def _attach(request: DebtorRequest, upload: Upload | None) -> None:
    if upload is None or (not upload.data and not upload.filename):
        return
    mime = attachment_type(upload.data)
    name = "".join(c if c.isalnum() or c in "-_. " else "_" for c in upload.filename)[-120:]
    request.attachments.append(
        RequestAttachment(
            filename=name or "file", mime=mime, size=len(upload.data), data=upload.data
        )
    )


def _new(
    session: Session,
    kind: RequestKind,
    debtor_id: int,
    invoice: Invoice | None,
    message: str,
    actor: str,
    **values: object,
) -> DebtorRequest:
    request = DebtorRequest(
        kind=kind.value,
        state=S.OPEN.value,
        debtor_id=debtor_id,
        invoice_id=invoice.id if invoice else None,
        message=message.strip()[:MAX_MESSAGE],
        **values,
    )
    request.events.append(RequestEvent(actor=actor, action="created", state=S.OPEN.value))
    session.add(request)
    return request


def _open_of_kind(session: Session, invoice_id: int, kind: RequestKind) -> DebtorRequest | None:
    return session.scalars(
        select(DebtorRequest).where(
            DebtorRequest.invoice_id == invoice_id,
            DebtorRequest.kind == kind.value,
            DebtorRequest.state.in_(OPEN_STATES),
        )
    ).first()


def _paused_before(session: Session, invoice_id: int, kind: RequestKind) -> int:
    """How many requests of `kind` paused this invoice's reminders by themselves."""
    return int(
        session.scalar(
            select(func.count()).where(
                DebtorRequest.invoice_id == invoice_id,
                DebtorRequest.kind == kind.value,
                DebtorRequest.paused_itself.is_(True),
            )
        )
        or 0
    )


def promise_pauses(session: Session, invoice: Invoice) -> bool:
    """Whether a new promise on `invoice` would pause its reminders by itself."""
    return _paused_before(session, invoice.id, RequestKind.PROMISE) < PROMISES_THAT_PAUSE


def dispute_pauses(session: Session, invoice: Invoice) -> bool:
    """Whether a new dispute of `invoice` would pause its reminders by itself."""
    return _paused_before(session, invoice.id, RequestKind.DISPUTE) < DISPUTES_THAT_PAUSE


def _disputable(invoice: Invoice) -> None:
    if invoice.kind != InvoiceKind.INVOICE.value or invoice.status != InvoiceStatus.OPEN.value:
        raise RequestRefused(N_("Only an open invoice can be disputed."))


def open_dispute(
    session: Session,
    invoice: Invoice,
    reason: str,
    message: str,
    upload: Upload | None,
    actor: str,
    today: dt.date,
) -> DebtorRequest:
    """Dispute an invoice (already the debtor's): its reminders wait until it is decided.

    Only the invoice's first dispute pauses reminders by itself (`DISPUTES_THAT_PAUSE`): a
    later one, after an admin decided the first, waits in the inbox while reminders go on
    (`paused_itself` False), so disputing again cannot hold reminders back for ever.
    The invoice is locked first, so a form sent twice at once makes one dispute."""
    session.refresh(invoice, with_for_update=True)
    _disputable(invoice)
    if reason not in DISPUTE_REASONS:
        raise RequestRefused(N_("Choose a reason."))
    if not message.strip():
        raise RequestRefused(N_("Tell us what is wrong."))
    if _open_of_kind(session, invoice.id, RequestKind.DISPUTE):
        raise RequestRefused(N_("This invoice is already disputed; we will answer soon."))
    pauses = dispute_pauses(session, invoice)
    request = _new(
        session,
        RequestKind.DISPUTE,
        invoice.debtor_id,
        invoice,
        message,
        actor,
        reason=reason,
        paused_itself=pauses,
    )
    _attach(request, upload)
    if pauses:
        holds.pause(session, invoice, "dispute", None, actor, today)
    session.flush()
    audit.record(
        session,
        actor,
        "request.dispute",
        debtor_id=invoice.debtor_id,
        invoice_id=invoice.id,
        request_id=request.id,
    )
    return request


def promise(
    session: Session, invoice: Invoice, day: dt.date, message: str, actor: str, today: dt.date
) -> DebtorRequest:
    """Promise to pay an invoice by `day`: its reminders wait until then. A promise not
    kept simply lets the hold lapse (the dunning run sees a past date as no hold).

    Only the first `PROMISES_THAT_PAUSE` promises of an invoice pause its reminders by
    themselves; a later one waits in the inbox while reminders go on, until an admin
    accepts it (`close` resolved: the pause starts then) or rejects it.
    The invoice is locked first, so two promises sent at once take turns."""
    session.refresh(invoice, with_for_update=True)
    if invoice.kind != InvoiceKind.INVOICE.value or not invoice.payable:
        raise RequestRefused(N_("Only an open invoice can be promised."))
    if not today <= day <= today + dt.timedelta(days=PROMISE_MAX_DAYS):
        raise RequestRefused(
            N_("Choose a day from today up to %(days)s days ahead."), days=PROMISE_MAX_DAYS
        )
    if invoice.hold_reason in ("dispute", "plan") and invoice.held_on(today):
        raise RequestRefused(N_("Reminders for this invoice are already paused."))
    earlier = _open_of_kind(session, invoice.id, RequestKind.PROMISE)
    if earlier is not None:  # a new promise replaces the earlier one
        move(session, earlier, S.RESOLVED, actor, "")
        earlier.outcome = "replaced"
    pauses = promise_pauses(session, invoice)
    request = _new(
        session,
        RequestKind.PROMISE,
        invoice.debtor_id,
        invoice,
        message,
        actor,
        promise_date=day,
        paused_itself=pauses,
    )
    if pauses:
        holds.pause(session, invoice, "promise", day, actor, today)
    session.flush()
    audit.record(
        session,
        actor,
        "request.promise",
        debtor_id=invoice.debtor_id,
        invoice_id=invoice.id,
        request_id=request.id,
        until=day.isoformat(),
    )
    return request


def ask(
    session: Session, debtor_id: int, invoice: Invoice | None, message: str, actor: str
) -> DebtorRequest:
    """A question, about an invoice (already the debtor's) or in general."""
    if not message.strip():
        raise RequestRefused(N_("Write your question."))
    return _new(session, RequestKind.QUESTION, debtor_id, invoice, message, actor)


CONTACT_FIELDS = ("email", "phone", "address_line", "postcode", "city")


def change_contact(
    session: Session,
    debtor_id: int,
    wanted: dict[str, str],
    message: str,
    actor: str,
    notifier: Notifier,
) -> DebtorRequest:
    """Change contact details. Phone and address change at once; a new email address only
    when the link mailed to it is opened (`confirm_email`)."""
    debtor = session.get_one(Debtor, debtor_id)
    changes = {
        k: v.strip()
        for k, v in wanted.items()
        if k in CONTACT_FIELDS and v.strip() and v.strip() != _current(debtor, k)
    }
    if "email" in changes:
        changes["email"] = changes["email"].lower()
        if changes["email"] == debtor.primary_email:
            del changes["email"]
    if "phone" in changes:  # stored in E.164, as SMS reminders need it
        try:
            changes["phone"] = phones.normalise(changes["phone"], phones.region_for(debtor.country))
        except phones.PhoneError as exc:
            raise RequestRefused(exc.msgid, **exc.params) from exc
        if changes["phone"] == debtor.phone:
            del changes["phone"]
    if not changes:
        raise RequestRefused(N_("Nothing changed: fill in what is new."))
    request = _new(
        session,
        RequestKind.CONTACT_CHANGE,
        debtor_id,
        None,
        message,
        actor,
        details={k: v for k, v in changes.items()},
    )
    applied = {k: v for k, v in changes.items() if k != "email"}
    for key, value in applied.items():
        setattr(debtor, key, value)
    if applied:
        debtor.contact_confirmed_at = utcnow()
    session.flush()
    if applied:
        audit.record(
            session, actor, "request.contact_changed", debtor_id=debtor_id, fields=sorted(applied)
        )
    if "email" in changes:
        # no usable value yet: the worker issues it when the mail goes out
        token = EmailChangeToken(
            request_id=request.id,
            debtor_id=debtor_id,
            email=changes["email"],
            token_hash=tokens.placeholder(),
            expires_at=utcnow(),
        )
        session.add(token)
        session.flush()
        notifier.email_confirm(session, request, token)
    else:
        move(session, request, S.RESOLVED, "system")
        request.outcome = "changed"
    return request


def _current(debtor: object, key: str) -> str:
    if key == "email":
        return str(getattr(debtor, "primary_email", ""))
    return str(getattr(debtor, key, ""))


def issue_email_token(
    session: Session, token_id: int, now: dt.datetime | None = None
) -> tuple[EmailChangeToken, str] | None:
    """Make a confirmation link's value as its mail goes out (valid EMAIL_CONFIRM_MINUTES
    from then; a second call ends the first). None when used or the request is closed."""
    token = session.get(EmailChangeToken, token_id)
    if token is None or token.used_at is not None:
        return None
    if session.get_one(DebtorRequest, token.request_id).closed:
        return None
    raw, digest = tokens.generate()
    token.token_hash = digest
    token.expires_at = (now or utcnow()) + dt.timedelta(minutes=EMAIL_CONFIRM_MINUTES)
    return token, raw


def find_email_token(session: Session, raw: str) -> EmailChangeToken | None:
    """The unused, unexpired confirmation behind a link (a GET must not use it up)."""
    if not tokens.looks_valid(raw):
        return None
    token = session.scalars(
        select(EmailChangeToken).where(EmailChangeToken.token_hash == tokens.digest(raw))
    ).first()
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    return token


def confirm_email(session: Session, raw: str, notifier: Notifier) -> DebtorRequest | None:
    """Use a confirmation link once: the new address replaces the debtor's main one, the
    old one is told, and every portal session of the account ends."""
    token = find_email_token(session, raw)
    if token is None:
        return None
    token.used_at = utcnow()
    request = session.get_one(DebtorRequest, token.request_id)
    if request.closed:
        return None
    emails = list(
        session.scalars(
            select(DebtorEmail)
            .where(DebtorEmail.debtor_id == token.debtor_id)
            .order_by(DebtorEmail.id)
        )
    )
    same = [e for e in emails if e.email == token.email]
    main = emails[0] if emails else None
    old = main.email if main else ""
    if main is None:
        session.add(DebtorEmail(debtor_id=token.debtor_id, email=token.email))
    elif main.email != token.email:
        for other in same:
            session.delete(other)
        session.flush()
        main.email, main.bouncing_since, main.bounce_reason = token.email, None, ""
    move(session, request, S.RESOLVED, f"debtor:{token.debtor_id}")
    request.outcome = "changed"
    session.get_one(Debtor, token.debtor_id).contact_confirmed_at = token.used_at
    # whoever could read the old mailbox may hold a session: every session ends
    login.end_all_sessions(session, [token.debtor_id], f"debtor:{token.debtor_id}", "email changed")
    if old and old != token.email:
        notifier.email_changed(session, session.get_one(Debtor, token.debtor_id), [old])
    audit.record(
        session,
        f"debtor:{token.debtor_id}",
        "request.email_changed",
        debtor_id=token.debtor_id,
        old=old,
        new=token.email,
    )
    return request


# ----------------------------------------------------------------------------- admin
def lock(session: Session, request: DebtorRequest) -> None:
    """Take the request's row lock and read it afresh (SQLite: the transaction began
    IMMEDIATE), then its invoice's: two admins deciding at once then see each other's
    decision instead of both acting on the same open state."""
    session.refresh(request, with_for_update=True)
    if request.invoice is not None:
        session.refresh(request.invoice, with_for_update=True)


def check_unchanged(request: DebtorRequest, seen: int | None) -> None:
    """Raise ChangedMeanwhile when the request has an event newer than `seen` (the newest
    event id the admin's page showed); None skips the check."""
    if seen is not None and request.events and request.events[-1].id != seen:
        raise ChangedMeanwhile(f"request {request.id} changed after event {seen}")


def assign(session: Session, request: DebtorRequest, admin_id: int | None, actor: str) -> None:
    """Give the request to an admin (None: to nobody)."""
    lock(session, request)
    if request.assigned_admin_id == admin_id:
        return
    request.assigned_admin_id = admin_id
    request.events.append(
        RequestEvent(actor=actor, action="assigned", message=str(admin_id or ""), public=False)
    )


def reply(
    session: Session, request: DebtorRequest, text: str, actor: str, notifier: Notifier
) -> None:
    """Answer the debtor by mail; the request stays open for more (state `answered`)."""
    if not text.strip():
        raise RequestRefused(N_("Write the answer."))
    lock(session, request)
    if request.closed:
        raise IllegalTransition("request", request.state, S.ANSWERED)
    if not move(session, request, S.ANSWERED, actor, text.strip()):
        request.events.append(RequestEvent(actor=actor, action="reply", message=text.strip()))
    notifier.update(session, request, text.strip())


def debtor_reply(session: Session, request: DebtorRequest, text: str, actor: str) -> None:
    """The debtor writes back on their request. An answered request opens again, so it
    returns to the inbox; a closed one takes no more (a new question does)."""
    text = text.strip()
    if not text:
        raise RequestRefused(N_("Write your reply."))
    if len(text) > MAX_MESSAGE:
        raise RequestRefused(N_("Your reply is too long; 4000 characters at most."))
    lock(session, request)
    if request.closed:
        raise RequestRefused(
            N_("This request is closed. Ask a new question if something is still unclear.")
        )
    if not move(session, request, S.OPEN, actor, text):
        request.events.append(RequestEvent(actor=actor, action="reply", message=text))


def credit_note_of(session: Session, request: DebtorRequest) -> Invoice | None:
    """The credit note that settled a dispute (made by `decide_dispute`), if any."""
    if request.kind != RequestKind.DISPUTE.value or request.invoice is None:
        return None
    number = f"CR{request.id}-{request.invoice.number}"[:40]
    return session.scalar(
        select(Invoice).where(
            Invoice.debtor_id == request.debtor_id,
            Invoice.kind == InvoiceKind.CREDIT_NOTE.value,
            Invoice.number == number,
        )
    )


def decide_dispute(
    session: Session,
    request: DebtorRequest,
    outcome: str,
    credit_cents: int,
    answer: str,
    actor: str,
    notifier: Notifier,
    today: dt.date,
) -> Invoice | None:
    """Settle a dispute: a credit note (part or all of what is open), cancel the invoice,
    or uphold it (reminders continue). Returns the credit note when one was made."""
    if request.kind != RequestKind.DISPUTE or request.invoice is None:
        raise RequestRefused(N_("This is not a dispute about an invoice."))
    if outcome not in DISPUTE_OUTCOMES:
        raise RequestRefused(N_("Choose what to do."))
    if not answer.strip():
        raise RequestRefused(N_("Write the answer for the customer."))
    lock(session, request)
    if request.closed:
        raise IllegalTransition("request", request.state, S.RESOLVED)
    invoice = request.invoice
    note: Invoice | None = None
    if outcome == "credit":
        if invoice.status != InvoiceStatus.OPEN.value:
            raise RequestRefused(N_("Only an open invoice can be credited."))
        if not 0 < credit_cents <= invoice.open_cents:
            raise RequestRefused(N_("The credit must be more than zero and at most what is open."))
        note = credit_note(session, invoice, credit_cents, request.id, today)
        audit.record(
            session,
            actor,
            "request.credited",
            debtor_id=invoice.debtor_id,
            invoice_id=invoice.id,
            request_id=request.id,
            amount_cents=credit_cents,
            currency=invoice.currency,
            credit_note=note.number,
        )
    elif outcome == "cancel":
        if invoice.status != InvoiceStatus.OPEN.value:
            raise RequestRefused(N_("Only an open invoice can be cancelled."))
        invoice.status = InvoiceStatus.CANCELLED.value
        audit.record(
            session,
            actor,
            "request.cancelled",
            debtor_id=invoice.debtor_id,
            invoice_id=invoice.id,
            request_id=request.id,
        )
    else:
        audit.record(
            session,
            actor,
            "request.upheld",
            debtor_id=invoice.debtor_id,
            invoice_id=invoice.id,
            request_id=request.id,
        )
    if invoice.hold_reason == "dispute":
        holds.resume(session, invoice, actor)
        holds.back_to_plan(session, invoice, actor, today)  # a running plan holds it
    if outcome in ("credit", "cancel"):
        ledger.open_amounts_changed(session, ledger.Change(invoice_ids={invoice.id}))
    request.outcome = outcome
    move(session, request, S.REJECTED if outcome == "uphold" else S.RESOLVED, actor, answer.strip())
    notifier.update(session, request, answer.strip())
    return note


def credit_note(
    session: Session, invoice: Invoice, cents: int, request_id: int, today: dt.date
) -> Invoice:
    """A credit note of `cents` set off against `invoice`, booked by the ledger."""
    number = f"CR{request_id}-{invoice.number}"
    return ledger.credit(session, invoice, cents, number, f"Credit for {invoice.number}", today)


def close(
    session: Session,
    request: DebtorRequest,
    state: str,
    answer: str,
    actor: str,
    notifier: Notifier,
    today: dt.date,
) -> None:
    """Close a question, promise or contact change as resolved or rejected, with an answer
    mailed to the debtor (a rejected promise lets reminders continue). Resolving a promise
    that waited for a decision accepts it: reminders pause until its day from now on."""
    if state not in (S.RESOLVED, S.REJECTED):
        raise RequestRefused(N_("Choose what to do."))
    if not answer.strip():
        raise RequestRefused(N_("Write the answer for the customer."))
    if request.kind == RequestKind.DISPUTE:
        raise RequestRefused(N_("Decide a dispute with a credit, a cancellation or upholding."))
    lock(session, request)
    accepting = request.awaits_pause_decision and state == S.RESOLVED
    move(session, request, state, actor, answer.strip())
    request.outcome = "accepted" if accepting else "closed"
    invoice = request.invoice
    if (
        request.kind == RequestKind.PROMISE
        and state == S.REJECTED
        and invoice is not None
        and invoice.hold_reason == "promise"
    ):
        holds.resume(session, invoice, actor)
    if accepting and invoice is not None and _may_pause_for_promise(invoice, request, today):
        holds.pause(session, invoice, "promise", request.promise_date, actor, today)
    notifier.update(session, request, answer.strip())


def _may_pause_for_promise(invoice: Invoice, request: DebtorRequest, today: dt.date) -> bool:
    """An accepted promise pauses reminders when its day is still ahead, the invoice is
    still owed and no dispute or plan holds it already."""
    day = request.promise_date
    return (
        invoice.payable
        and day is not None
        and day >= today
        and not (invoice.hold_reason in ("dispute", "plan") and invoice.held_on(today))
    )


# ---------------------------------------------------------------------------- queries
def for_debtor(session: Session, debtor_id: int) -> Sequence[DebtorRequest]:
    """A debtor's requests, newest first."""
    return session.scalars(
        select(DebtorRequest)
        .where(DebtorRequest.debtor_id == debtor_id)
        .options(selectinload(DebtorRequest.events), selectinload(DebtorRequest.invoice))
        .order_by(DebtorRequest.created_at.desc(), DebtorRequest.id.desc())
    ).all()


def get_for_debtor(session: Session, debtor_id: int, request_id: int) -> DebtorRequest | None:
    """One request, only when it is this debtor's."""
    return session.scalars(
        select(DebtorRequest).where(
            DebtorRequest.id == request_id, DebtorRequest.debtor_id == debtor_id
        )
    ).first()


@dataclass(frozen=True)
class InboxFilter:
    kind: str = ""
    state: str = "active"  # open or answered
    assigned: str = ""  # "", "me", "nobody"
    page: int = 1

    @classmethod
    def parse(cls, args: dict[str, str]) -> InboxFilter:
        kind = args.get("kind", "")
        state = args.get("state", "active")
        assigned = args.get("assigned", "")
        page = args.get("page", "")
        return cls(
            kind=kind if kind in tuple(RequestKind) else "",
            state=state if state in ("active", "all", *tuple(RequestState)) else "active",
            assigned=assigned if assigned in ("me", "nobody") else "",
            page=page_number(page),
        )

    def args(self, page: int) -> dict[str, str | int]:
        """The query of this filter on another page (for the pager's links)."""
        values = {"kind": self.kind, "state": self.state, "assigned": self.assigned}
        return {**{k: v for k, v in values.items() if v}, "page": page}


INBOX_PAGE = 50


def inbox(
    session: Session, flt: InboxFilter, admin_id: int
) -> tuple[Sequence[DebtorRequest], bool]:
    """One page of requests for the admin inbox, oldest first (the longest waiting on top),
    and whether another page follows."""
    stmt = select(DebtorRequest).options(
        selectinload(DebtorRequest.debtor), selectinload(DebtorRequest.invoice)
    )
    if flt.kind:
        stmt = stmt.where(DebtorRequest.kind == flt.kind)
    if flt.state == "active":
        stmt = stmt.where(DebtorRequest.state.in_(OPEN_STATES))
    elif flt.state != "all":
        stmt = stmt.where(DebtorRequest.state == flt.state)
    if flt.assigned == "me":
        stmt = stmt.where(DebtorRequest.assigned_admin_id == admin_id)
    elif flt.assigned == "nobody":
        stmt = stmt.where(DebtorRequest.assigned_admin_id.is_(None))
    rows = session.scalars(
        stmt.order_by(DebtorRequest.created_at, DebtorRequest.id)
        .offset((flt.page - 1) * INBOX_PAGE)
        .limit(INBOX_PAGE + 1)
    ).all()
    return rows[:INBOX_PAGE], len(rows) > INBOX_PAGE


def open_counts(session: Session) -> dict[str, int]:
    """Open (or answered) requests per kind, for the dashboard."""
    rows = session.execute(
        select(DebtorRequest.kind, func.count())
        .where(DebtorRequest.state.in_(OPEN_STATES))
        .group_by(DebtorRequest.kind)
    ).all()
    return {str(kind): int(n) for kind, n in rows}


def broken_promise(request: DebtorRequest, today: dt.date) -> bool:
    """A promise whose day has passed while the invoice is still open."""
    invoice = request.invoice
    return (
        request.kind == RequestKind.PROMISE
        and not request.closed
        and request.promise_date is not None
        and request.promise_date < today
        and invoice is not None
        and invoice.payable
    )
