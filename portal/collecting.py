"""The app's side of the collection hand-over: dossiers rendered with this app's templates,
download links signed with its secret and built on BASE_URL, the agency deliveries and
the daily sweep (domain code in `portal/domain/collection/`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from portal.domain import documents
from portal.domain.collection import dossier, handover
from portal.domain.collection.models import Handover
from portal.models import Debtor, Invoice, utcnow
from portal.runtime import business_today, settings

LINK_SALT = "agency-dossier"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(settings().secret_key, salt=LINK_SALT)


def link_token(h: Handover) -> str:
    """The signed (hand-over, nonce) of a download link; it names no file and no debtor."""
    return _serializer().dumps([h.id, h.link_nonce])


def read_token(token: str) -> tuple[int, str] | None:
    """(hand-over id, nonce) of a signed link, or None when forged."""
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        return None
    return value[0], str(value[1])


def dossier_url(h: Handover) -> str:
    """The public download link of a hand-over's dossier."""
    return f"{settings().base_url}/collection/dossier/{link_token(h)}"


def _cache_dir() -> Path:
    return Path(current_app.instance_path) / "cache" / "pdf"


def summary_pdf(session: Session, debtor: Debtor) -> Any:
    """A renderer of the dossier's summary PDF, in the brand's language."""

    def render(document: dict[str, Any]) -> bytes:
        lists = dossier.for_pdf(document)
        lang = debtor.brand.default_language
        with force_locale(lang):
            html = render_template(
                "pdf/dossier.html",
                doc=document,
                brand=debtor.brand,
                debtor=debtor,
                lang=lang,
                today=business_today(),
                lists=lists,
                logo=documents.logo_data_uri(session, debtor.brand),
                parse_date=_parse_date,
                timeline_label=_timeline_label,
            )
        return documents.html_to_pdf(html, session)

    return render


def _timeline_label(event: dict[str, Any]) -> str:
    from types import SimpleNamespace

    from portal.i18n import event_label

    return event_label(SimpleNamespace(action=event["action"], details=event["details"]))  # type: ignore[arg-type]


def _parse_date(value: str | None) -> dt.date | dt.datetime | None:
    if not value:
        return None
    if "T" in value:
        return dt.datetime.fromisoformat(value)
    return dt.date.fromisoformat(value)


def invoice_pdf(session: Session, lang: str) -> Any:
    """The invoice's PDF: the original when present, else the portal's (cached) copy."""

    def pdf(invoice: Invoice) -> bytes:
        with force_locale(lang):
            content, _cached = documents.invoice_copy(
                session, invoice, lang, render_template, _cache_dir()
            )
        return content

    return pdf


def build(session: Session, h: Handover) -> bytes:
    """The dossier ZIP of a hand-over, as of now."""
    debtor = session.get_one(Debtor, h.debtor_id)
    return dossier.build(
        session,
        h,
        business_today(),
        summary_pdf(session, debtor),
        invoice_pdf(session, debtor.brand.default_language),
    )


def json_document(session: Session, h: Handover) -> dict[str, Any]:
    """The dossier's JSON, as pushed to an agency's endpoint."""
    return dossier.collect(session, h, business_today())


def delivery() -> handover.Delivery:
    """Dossiers, links and JSON bound to this app."""
    return handover.Delivery(build=build, link=dossier_url, json_document=json_document)


def hand_over(
    session: Session, debtor_id: int, agency_id: int, invoice_ids: list[int] | None, by: str
) -> Handover:
    """Hand a debtor's queued invoices to an agency (admin, or the segment's rule)."""
    return handover.hand_over(session, debtor_id, agency_id, invoice_ids, by, delivery(), utcnow())


def handover_state_label(state: str) -> str:
    """A hand-over's state in the reader's language."""
    from flask_babel import gettext as _

    return {
        "active": _("with the agency"),
        "recalled": _("recalled"),
        "returned": _("returned by the agency"),
        "closed": _("closed"),
    }.get(state, state)
