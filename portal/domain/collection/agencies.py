"""Collection agencies as configured partners: who they are, how a dossier reaches them
(a signed expiring download link, a mail with that link, or signed JSON pushed to their
HTTPS endpoint under the outgoing webhooks' rules), their fee terms for reference, and
whether a debtor may still pay in the portal once they handle the claim."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit, outgoing
from portal.domain.collection.models import DELIVERY_WAYS, Agency
from portal.domain.problems import N_, Problem


class AgencyRefused(Problem):
    """Agency details we cannot save; the message says what to change."""


@dataclass(frozen=True)
class AgencyForm:
    """What an admin typed (already stripped)."""

    name: str
    contact_name: str = ""
    email: str = ""
    phone: str = ""
    website: str = ""
    address: str = ""
    delivery: str = "download"
    endpoint_url: str = ""
    fee_terms: str = ""
    portal_payments: bool = True
    active: bool = True


def all_agencies(session: Session, *, active_only: bool = False) -> list[Agency]:
    """Agencies by name."""
    query = select(Agency).order_by(Agency.name)
    if active_only:
        query = query.where(Agency.active.is_(True))
    return list(session.scalars(query))


def save(
    session: Session,
    agency: Agency | None,
    form: AgencyForm,
    actor: str,
    *,
    production: bool,
    allow_private: bool = False,
) -> tuple[Agency, str | None]:
    """Create or change an agency; returns it and, when new, its signing secret (shown
    once). A push endpoint is checked as outgoing webhooks are (https in production, never
    a loopback or private address)."""
    if not form.name:
        raise AgencyRefused(N_("Give the agency's name."))
    if form.delivery not in DELIVERY_WAYS:
        raise AgencyRefused(N_("Choose how the dossier reaches the agency."))
    if form.delivery == "email" and "@" not in form.email:
        raise AgencyRefused(N_("Delivery by mail needs the agency's email address."))
    if form.delivery == "push":
        try:
            outgoing.check_url(
                form.endpoint_url, production=production, allow_private=allow_private
            )
        except outgoing.UnsafeTarget as exc:
            raise AgencyRefused(
                N_("The agency's address cannot receive dossiers: %(reason)s."), reason=str(exc)
            ) from None
    same_name = session.scalar(select(Agency).where(Agency.name == form.name))
    if same_name is not None and same_name is not agency:
        raise AgencyRefused(N_("Another agency has this name."))
    secret = None
    if agency is None:
        secret = outgoing.new_secret()
        agency = Agency(secret=secret)
        session.add(agency)
    for key, value in form.__dict__.items():
        setattr(agency, key, value)
    session.flush()
    audit.record(session, actor, "agency.saved", agency=agency.id, delivery=agency.delivery)
    return agency, secret


def rotate_secret(session: Session, agency: Agency, actor: str) -> str:
    """A new signing secret (the old one stops working at once), to show once."""
    agency.secret = outgoing.new_secret()
    audit.record(session, actor, "agency.secret_rotated", agency=agency.id)
    return agency.secret
