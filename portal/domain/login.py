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
class LinkRequest:
    """An address asked for a link: the token row (not usable yet: the worker issues it
    when the mail is sent) and the accounts the address opens, for the mail's brand."""

    token_id: int
    email: str
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
    ip: str = "",
    now: Callable[[], dt.datetime] = utcnow,
) -> LinkRequest | None:
    """Note a login request when the address belongs to a debtor.

    The token row holds no usable value yet: `issue` makes one when the mail is sent, so
    the database never holds a live link and the minutes count from sending. Returns
    None for an unknown address; the caller must answer exactly as for a known one so
    the page does not reveal who is a customer.
    """
    email = normalize_email(email)
    debtors = debtors_for_email(session, email)
    if not debtors:
        return None
    created = now()
    token = LoginToken(
        token_hash=tokens.placeholder(),
        email=email,
        created_at=created,
        expires_at=created,  # not usable before it is issued
        requested_ip=ip[:45],
    )
    session.add(token)
    session.flush()
    for debtor in debtors:
        audit.record(session, "system", "login.link_sent", debtor_id=debtor.id)
    return LinkRequest(token_id=token.id, email=email, debtors=debtors)


def issue(
    session: Session,
    token_id: int,
    *,
    minutes: int = 15,
    now: Callable[[], dt.datetime] = utcnow,
) -> str | None:
    """Make the token's link value now, as the mail goes out; valid `minutes` from now.

    Issuing again (a retried send) makes a new value and the earlier one stops working.
    Only the hash is stored; the caller puts the raw value in the mail and nowhere else.
    None when the token was used or is gone.
    """
    token = session.get(LoginToken, token_id)
    if token is None or token.used_at is not None:
        return None
    raw, digest = tokens.generate()
    token.token_hash = digest
    token.expires_at = now() + dt.timedelta(minutes=minutes)
    return raw


def link_for(base_url: str, raw: str) -> str:
    """The sign-in URL of a raw token."""
    return f"{base_url}/login/{raw}"


def check_token(session: Session, raw: str, *, now: Callable[[], dt.datetime] = utcnow) -> str:
    """Tell whether a link can still be used, without using it. Returns its email."""
    token = _find(session, raw)
    if token.used_at is not None:
        raise InvalidToken(TokenProblem.USED)
    if token.expires_at <= now():
        raise InvalidToken(TokenProblem.EXPIRED)
    return token.email


@dataclass(frozen=True)
class SignIn:
    """A used link: the address it was sent to, the debtor accounts that address opens
    and the session version of each (address, account) pair, for the session cookie."""

    email: str
    debtors: list[Debtor]
    versions: dict[int, int]


def consume_token(session: Session, raw: str, *, now: Callable[[], dt.datetime] = utcnow) -> SignIn:
    """Use the link once: which debtors its address may open, for a new session.

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
    versions = session_versions(session, token.email, [d.id for d in debtors])
    return SignIn(email=token.email, debtors=debtors, versions=versions)


def _find(session: Session, raw: str) -> LoginToken:
    if not tokens.looks_valid(raw):
        raise InvalidToken(TokenProblem.UNKNOWN)
    token = session.scalars(
        select(LoginToken).where(LoginToken.token_hash == tokens.digest(raw))
    ).first()
    if token is None:
        raise InvalidToken(TokenProblem.UNKNOWN)
    return token


# -------------------------------------------------------------------------- sessions
# A portal session remembers, per debtor account, the `session_version` of the address it
# was opened with (DebtorEmail). Raising a version ends every session that carries the old
# one, copied cookies included: the cookie is signed but lives in the browser, so only a
# value kept here can take it back.


def session_versions(session: Session, email: str, debtor_ids: list[int]) -> dict[int, int]:
    """The current version of (address, account) for each account the address still opens."""
    if not debtor_ids:
        return {}
    rows = session.execute(
        select(DebtorEmail.debtor_id, DebtorEmail.session_version).where(
            DebtorEmail.email == normalize_email(email), DebtorEmail.debtor_id.in_(debtor_ids)
        )
    )
    return {debtor_id: version for debtor_id, version in rows}


def sign_out(session: Session, email: str, debtor_ids: list[int]) -> None:
    """Logout: end every session this address has on these accounts (other addresses of
    the same accounts keep theirs)."""
    if not debtor_ids:
        return
    session.execute(
        update(DebtorEmail)
        .where(DebtorEmail.email == normalize_email(email), DebtorEmail.debtor_id.in_(debtor_ids))
        .values(session_version=DebtorEmail.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    for debtor_id in debtor_ids:
        audit.record(session, f"debtor:{debtor_id}", "login.signed_out", debtor_id=debtor_id)


def end_all_sessions(session: Session, debtor_ids: list[int], actor: str, reason: str) -> None:
    """End every portal session on these accounts, whatever address opened it: "sign out
    everywhere" (by the debtor or an admin) and email changes."""
    if not debtor_ids:
        return
    session.execute(
        update(DebtorEmail)
        .where(DebtorEmail.debtor_id.in_(debtor_ids))
        .values(session_version=DebtorEmail.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    for debtor_id in debtor_ids:
        audit.record(session, actor, "login.sessions_ended", debtor_id=debtor_id, reason=reason)
