"""Magic-link login for debtors: no passwords, single-use hashed tokens."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.domain import audit, tokens
from portal.models import Debtor, DebtorEmail, LoginToken, utcnow


class TokenProblem(enum.StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


class InvalidToken(Exception):
    """The link cannot log anyone in; `problem` says why (shown to the person)."""

    def __init__(self, problem: TokenProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class LinkMail:
    """What the caller needs to write the login mail."""

    email: str
    link: str
    debtors: list[Debtor]


def normalize_email(email: str) -> str:
    """Addresses are compared case-insensitively and without surrounding space."""
    return email.strip().lower()


def debtors_for_email(session: Session, email: str) -> list[Debtor]:
    """Every debtor account that this address may open, by name."""
    stmt = (
        select(Debtor)
        .join(DebtorEmail, DebtorEmail.debtor_id == Debtor.id)
        .where(DebtorEmail.email == normalize_email(email))
        .order_by(Debtor.name, Debtor.id)
    )
    return list(session.scalars(stmt).unique())


def request_link(
    session: Session,
    email: str,
    *,
    base_url: str,
    ip: str = "",
    minutes: int = 15,
    now: Callable[[], dt.datetime] = utcnow,
) -> LinkMail | None:
    """Create a login token when the address belongs to a debtor.

    Returns None for an unknown address; the caller must answer exactly as for a
    known one so the page does not reveal who is a customer.
    """
    email = normalize_email(email)
    debtors = debtors_for_email(session, email)
    if not debtors:
        return None
    raw, digest = tokens.generate()
    created = now()
    session.add(
        LoginToken(
            token_hash=digest,
            email=email,
            created_at=created,
            expires_at=created + dt.timedelta(minutes=minutes),
            requested_ip=ip[:45],
        )
    )
    for debtor in debtors:
        audit.record(session, "system", "login.link_sent", debtor_id=debtor.id)
    return LinkMail(email=email, link=f"{base_url}/login/{raw}", debtors=debtors)


def check_token(session: Session, raw: str, *, now: Callable[[], dt.datetime] = utcnow) -> str:
    """Tell whether a link can still be used, without using it. Returns its email."""
    token = _find(session, raw)
    if token.used_at is not None:
        raise InvalidToken(TokenProblem.USED)
    if token.expires_at <= now():
        raise InvalidToken(TokenProblem.EXPIRED)
    return token.email


def consume_token(
    session: Session, raw: str, *, now: Callable[[], dt.datetime] = utcnow
) -> list[Debtor]:
    """Use the link once and return the debtors its address may open.

    The conditional UPDATE is the single-use guard: of two concurrent presses of
    "continue", exactly one changes the row.
    """
    if not tokens.looks_valid(raw):
        raise InvalidToken(TokenProblem.UNKNOWN)
    moment = now()
    claimed = session.execute(
        update(LoginToken)
        .where(
            LoginToken.token_hash == tokens.digest(raw),
            LoginToken.used_at.is_(None),
            LoginToken.expires_at > moment,
        )
        .values(used_at=moment)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        check_token(session, raw, now=now)  # raises with the precise reason
        raise InvalidToken(TokenProblem.USED)
    token = _find(session, raw)
    debtors = debtors_for_email(session, token.email)
    for debtor in debtors:
        audit.record(session, f"debtor:{debtor.id}", "login.success", debtor_id=debtor.id)
    return debtors


def _find(session: Session, raw: str) -> LoginToken:
    if not tokens.looks_valid(raw):
        raise InvalidToken(TokenProblem.UNKNOWN)
    token = session.scalars(
        select(LoginToken).where(LoginToken.token_hash == tokens.digest(raw))
    ).first()
    if token is None:
        raise InvalidToken(TokenProblem.UNKNOWN)
    return token
