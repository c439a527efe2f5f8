"""Admin accounts: argon2 passwords, lockout after failures, optional TOTP."""

from __future__ import annotations

import datetime as dt
import enum
import hmac
from collections.abc import Callable
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from portal.domain import audit, tokens
from portal.models import AdminResetToken, AdminRole, AdminUser, utcnow

MIN_PASSWORD_LENGTH = 12
FREE_FAILURES = 5  # then each further failure locks the account longer
MAX_LOCK = dt.timedelta(hours=1)
_hasher = PasswordHasher()
# verified against for unknown addresses, so a wrong email costs as long as a wrong password
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


class AdminError(ValueError):
    """A request about admin accounts that cannot be carried out; the text says why."""


def password_problems(password: str, email: str = "") -> list[str]:
    """What is wrong with a new password, in words (empty when it is fine)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"use at least {MIN_PASSWORD_LENGTH} characters")
    if email and password.lower() == email.lower():
        problems.append("do not use your email address")
    if len(set(password)) < 5:
        problems.append("use more different characters")
    return problems


def create_admin(
    session: Session, email: str, password: str, *, role: str = "admin", name: str = "", by: str
) -> AdminUser:
    """Create an admin account; `by` is who did it ('cli', 'admin:3')."""
    email = email.strip().lower()
    if "@" not in email:
        raise AdminError("enter an email address")
    if role not in {r.value for r in AdminRole}:
        raise AdminError("role must be admin or clerk")
    problems = password_problems(password, email)
    if problems:
        raise AdminError("password: " + "; ".join(problems))
    if session.scalar(select(AdminUser.id).where(AdminUser.email == email)) is not None:
        raise AdminError(f"an admin with {email} already exists")
    user = AdminUser(email=email, name=name, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    audit.record(session, by, "admin.user_created", target=email, role=role)
    return user


class LoginOutcome(enum.StrEnum):
    OK = "ok"
    NEEDS_TOTP = "needs_totp"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: AdminUser | None = None
    locked_until: dt.datetime | None = None


def check_password(
    session: Session,
    email: str,
    password: str,
    *,
    ip: str = "",
    now: Callable[[], dt.datetime] = utcnow,
) -> LoginResult:
    """First step of the admin login. Failures count toward a growing lock; the audit
    line names the address the attempt came from (`ip`)."""
    moment = now()
    user = session.scalars(
        select(AdminUser).where(AdminUser.email == email.strip().lower())
    ).first()
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        return LoginResult(LoginOutcome.INVALID)
    if user.locked_until and user.locked_until > moment:
        return LoginResult(LoginOutcome.LOCKED, locked_until=user.locked_until)
    if not _verify(user.password_hash, password):
        _count_failure(session, user, moment, "admin.login_failed", ip)
        return LoginResult(LoginOutcome.INVALID)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    if user.totp_enabled:
        return LoginResult(LoginOutcome.NEEDS_TOTP, user)
    return LoginResult(LoginOutcome.OK, _logged_in(session, user, moment, ip))


TOTP_STEP = 30  # seconds per code
TOTP_SLACK = 1  # codes of one step before or after are accepted (clocks drift)


def _matching_step(secret: str, code: str, moment: dt.datetime) -> int | None:
    """The time step whose code `code` is (within the slack), or None."""
    code = code.strip().replace(" ", "")
    totp = pyotp.TOTP(secret, interval=TOTP_STEP)
    now_step = totp.timecode(moment)
    for step in range(now_step - TOTP_SLACK, now_step + TOTP_SLACK + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
            return step
    return None


def _use_step(session: Session, user: AdminUser, step: int) -> bool:
    """Mark the code of `step` used; False when it (or a later one) was used already.

    One conditional UPDATE, so two logins racing with the same code cannot both win."""
    claimed = session.execute(
        update(AdminUser)
        .where(
            AdminUser.id == user.id,
            or_(AdminUser.totp_last_step.is_(None), AdminUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    user.totp_last_step = step
    return True


def check_totp(
    session: Session,
    user: AdminUser,
    code: str,
    *,
    ip: str = "",
    now: Callable[[], dt.datetime] = utcnow,
) -> bool:
    """Second step: the code from the authenticator app (30 s steps, one step of slack).

    A code works once: its step is recorded, and that step or an earlier one is refused
    afterwards, so a code seen over someone's shoulder cannot be replayed in its window."""
    moment = now()
    if user.locked_until and user.locked_until > moment:
        return False
    step = _matching_step(user.totp_secret, code, moment) if user.totp_secret else None
    if step is not None and _use_step(session, user, step):
        _logged_in(session, user, moment, ip)
        return True
    _count_failure(session, user, moment, "admin.totp_failed", ip)
    return False


def _count_failure(
    session: Session, user: AdminUser, moment: dt.datetime, action: str, ip: str
) -> None:
    """After FREE_FAILURES failures in a row, lock for 1, 2, 4 ... minutes (at most an hour)."""
    user.failed_logins += 1
    if user.failed_logins >= FREE_FAILURES:
        lock = dt.timedelta(minutes=2 ** min(user.failed_logins - FREE_FAILURES, 6))
        user.locked_until = moment + min(lock, MAX_LOCK)
    audit.record(session, f"admin:{user.id}", action, ip=ip)


def _logged_in(session: Session, user: AdminUser, moment: dt.datetime, ip: str) -> AdminUser:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = moment
    audit.record(session, f"admin:{user.id}", "admin.login", ip=ip)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def pending_totp_secret(user: AdminUser) -> str:
    """The secret being enrolled for `user`, made and kept on the admin row (never in the
    browser's cookie, which the browser can read) until the app is confirmed."""
    if not user.totp_pending_secret:
        user.totp_pending_secret = pyotp.random_base32()
    return user.totp_pending_secret


def totp_uri(user: AdminUser, secret: str, issuer: str = "Betaalportaal") -> str:
    """The otpauth:// address the QR code carries."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def enable_totp(
    session: Session,
    user: AdminUser,
    code: str,
    *,
    now: Callable[[], dt.datetime] = utcnow,
) -> bool:
    """Turn on the second factor once the person proves the app shows the right code for
    the pending secret; that code then counts as used."""
    secret = user.totp_pending_secret
    step = _matching_step(secret, code, now()) if secret else None
    if secret is None or step is None:
        return False
    user.totp_secret = secret
    user.totp_pending_secret = None
    user.totp_enabled = True
    user.totp_last_step = step
    user.session_version += 1  # other sessions must log in again, now with the code
    audit.record(session, f"admin:{user.id}", "admin.totp_enabled")
    return True


def set_active(session: Session, user: AdminUser, active: bool, *, by: AdminUser) -> None:
    """Deactivate or reactivate an account (never your own)."""
    if user.id == by.id:
        raise AdminError("you cannot deactivate your own account")
    user.active = active
    user.session_version += 1
    audit.record(
        session,
        f"admin:{by.id}",
        "admin.user_activated" if active else "admin.user_deactivated",
        target=user.email,
    )


def set_role(session: Session, user: AdminUser, role: str, *, by: AdminUser) -> None:
    """Change someone's role (not your own, so the last admin cannot lock everyone out)."""
    if user.id == by.id:
        raise AdminError("you cannot change your own role")
    if role not in {r.value for r in AdminRole}:
        raise AdminError("role must be admin or clerk")
    user.role = role
    audit.record(session, f"admin:{by.id}", "admin.role_changed", target=user.email, role=role)


RESET_MINUTES = 30


def request_reset(
    session: Session, email: str, *, now: Callable[[], dt.datetime] = utcnow
) -> tuple[AdminUser, AdminResetToken] | None:
    """A reset token for an active admin (None for unknown addresses: answer the same).

    It holds no usable value until `issue_reset` makes one as the mail is sent."""
    user = session.scalars(
        select(AdminUser).where(AdminUser.email == email.strip().lower(), AdminUser.active)
    ).first()
    if user is None:
        return None
    moment = now()
    token = AdminResetToken(
        admin_id=user.id,
        token_hash=tokens.placeholder(),
        created_at=moment,
        expires_at=moment,  # not usable before it is issued
    )
    session.add(token)
    session.flush()
    audit.record(session, f"admin:{user.id}", "admin.reset_requested")
    return user, token


def issue_reset(
    session: Session, token_id: int, *, now: Callable[[], dt.datetime] = utcnow
) -> tuple[AdminUser, str] | None:
    """Make a reset link's value as its mail goes out (valid RESET_MINUTES from now; a
    second call makes a new one and ends the first). None when used, or the admin is
    no longer active."""
    token = session.get(AdminResetToken, token_id)
    if token is None or token.used_at is not None:
        return None
    user = session.get(AdminUser, token.admin_id)
    if user is None or not user.active:
        return None
    raw, digest = tokens.generate()
    token.token_hash = digest
    token.expires_at = now() + dt.timedelta(minutes=RESET_MINUTES)
    return user, raw


def reset_token_valid(
    session: Session, raw: str, *, now: Callable[[], dt.datetime] = utcnow
) -> bool:
    """Whether a reset link can still be used (checking does not use it)."""
    if not tokens.looks_valid(raw):
        return False
    token = session.scalars(
        select(AdminResetToken).where(AdminResetToken.token_hash == tokens.digest(raw))
    ).first()
    return token is not None and token.used_at is None and token.expires_at > now()


def reset_password(
    session: Session, raw: str, password: str, *, now: Callable[[], dt.datetime] = utcnow
) -> AdminUser:
    """Use a reset link once to set a new password; every session of the admin ends."""
    if not tokens.looks_valid(raw):
        raise AdminError("this link is not valid")
    moment = now()
    token = session.scalars(
        select(AdminResetToken).where(AdminResetToken.token_hash == tokens.digest(raw))
    ).first()
    if token is None or token.used_at is not None or token.expires_at <= moment:
        raise AdminError("this link has expired or was used; ask for a new one")
    user = session.get(AdminUser, token.admin_id)
    if user is None or not user.active:
        raise AdminError("this account is not active")
    problems = password_problems(password, user.email)
    if problems:
        raise AdminError("password: " + "; ".join(problems))
    claimed = session.execute(
        update(AdminResetToken)
        .where(AdminResetToken.id == token.id, AdminResetToken.used_at.is_(None))
        .values(used_at=moment)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise AdminError("this link has expired or was used; ask for a new one")
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.session_version += 1
    audit.record(session, f"admin:{user.id}", "admin.password_reset")
    return user
