"""What agencies reach without an account: the dossier behind a signed expiring link, and
the signed callback with their report (no session, no CSRF: the signature is the proof)."""

from __future__ import annotations

from flask import Blueprint, Response, abort

from portal import collecting
from portal.db import db
from portal.domain import audit
from portal.domain.collection import handover
from portal.extensions import csrf
from portal.models import utcnow

bp = Blueprint("collection", __name__)


@bp.get("/collection/dossier/<token>")
def dossier_download(token: str) -> Response:
    """The dossier ZIP, while the link works (same nonce, not expired, claim not ended)."""
    named = collecting.read_token(token)
    if named is None:
        abort(404)
    found = handover.by_link(db.session(), named[0], named[1], utcnow())
    if found is None or not found.dossier:
        abort(404)
    found.downloads += 1
    audit.record(
        db.session(),
        f"agency:{found.agency_id}",
        "collection.dossier_downloaded",
        debtor_id=found.debtor_id,
        handover=found.id,
    )
    db.session.commit()
    response = Response(found.dossier, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="dossier-{found.id}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


csrf.exempt(bp)
