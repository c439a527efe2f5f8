"""Random tokens that are stored only as their SHA-256 digest."""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 bytes in unpadded base64url


def generate() -> tuple[str, str]:
    """Return (raw token for the link, digest to store)."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    return raw, digest(raw)


def digest(raw: str) -> str:
    """The hex SHA-256 of a raw token."""
    return hashlib.sha256(raw.encode("ascii", "replace")).hexdigest()


def looks_valid(raw: str) -> bool:
    """Cheap shape check so garbled links never reach the database."""
    return bool(_TOKEN_SHAPE.match(raw))


def placeholder() -> str:
    """A digest to store until a token is issued: of random bytes nobody keeps, so no link
    matches it (the column stays unique and never null)."""
    return digest(secrets.token_urlsafe(TOKEN_BYTES))
