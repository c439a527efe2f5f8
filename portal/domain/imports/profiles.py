"""Named column mappings per brand: map an export once, reuse it next time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.imports.columns import Header
from portal.models import ImportProfile, utcnow


def save(session: Session, brand_id: int, name: str, header: Header, *, by: str) -> ImportProfile:
    """Store the header's current mapping under `name` (by column title, not position)."""
    name = name.strip()[:80]
    if not name:
        raise ValueError("give the profile a name")
    mapping = {
        field: header.names[index]
        for field, index in header.columns.items()
        if index < len(header.names) and header.names[index]
    }
    profile = session.scalars(
        select(ImportProfile).where(ImportProfile.brand_id == brand_id, ImportProfile.name == name)
    ).first()
    if profile is None:
        profile = ImportProfile(brand_id=brand_id, name=name)
        session.add(profile)
    profile.mapping = mapping
    profile.last_used_at = utcnow()
    audit.record(session, by, "admin.import_profile_saved", profile=name)
    return profile


def for_brand(session: Session, brand_id: int) -> list[ImportProfile]:
    """The brand's profiles, most recently used first."""
    return list(
        session.scalars(
            select(ImportProfile)
            .where(ImportProfile.brand_id == brand_id)
            .order_by(ImportProfile.last_used_at.desc())
        )
    )


def mapping_of(session: Session, brand_id: int, profile_id: int | None) -> dict[str, Any]:
    """The stored mapping of a profile of this brand (empty when there is none)."""
    if not profile_id:
        return {}
    profile = session.get(ImportProfile, profile_id)
    if profile is None or profile.brand_id != brand_id:
        return {}
    return dict(profile.mapping)
