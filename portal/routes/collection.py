"""What agencies reach without an account: the dossier behind a signed expiring link, and
the signed callback with their report (no session, no CSRF: the signature is the proof)."""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, abort, request

from portal import collecting
from portal.db import db
from portal.domain import audit
from portal.domain.collection import delivery, handover, reports
from portal.domain.collection.models import Agency
from portal.domain.outgoing import SIGNATURE_HEADER
from portal.domain.problems import Problem
from portal.extensions import csrf, limiter
from portal.models import utcnow
from portal.runtime import business_today

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


MAX_CALLBACK_BYTES = 2 * 1024 * 1024


@bp.post("/collection/callback/<int:agency_id>")
@limiter.limit("60/minute")
def agency_callback(agency_id: int) -> Response:
    """An agency's report, signed with its secret (the outgoing webhooks' format)."""
    agency = db.session.get(Agency, agency_id)
    body = request.get_data(cache=False)[: MAX_CALLBACK_BYTES + 1]
    header = request.headers.get(SIGNATURE_HEADER, "")
    now = int(time.time())
    if agency is None or not agency.active or not delivery.verify(agency.secret, body, header, now):
        return _json({"error": "signature"}, 401)
    if len(body) > MAX_CALLBACK_BYTES:
        return _json({"error": "too large"}, 413)
    try:
        document = json.loads(body)
        report = reports.callback(db.session(), agency, document, body, business_today())
    except (ValueError, Problem) as exc:
        db.session.rollback()
        return _json({"error": str(exc)[:300]}, 422)
    db.session.commit()
    return _json(
        {
            "report": report.id,
            "booked": report.booked,
            "already": report.already,
            "problems": report.problems,
        },
        200,
    )


def _json(data: dict[str, object], status: int) -> Response:
    return Response(json.dumps(data), status, mimetype="application/json")


csrf.exempt(bp)
