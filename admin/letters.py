"""Letters waiting for the printer: make a print batch (one PDF) and download past ones.

Clerks may do this too: printing is daily work, not configuration.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import undefer
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.session import actor, admin_required
from portal import runtime
from portal.db import db
from portal.domain.messaging import letters
from portal.forms import ConfirmForm
from portal.mails import LetterWriter, letters_pdf
from portal.models import PrintBatch


@bp.get("/letters")
@admin_required()
def letters_page() -> str:
    """How many letters wait, and the batches printed before."""
    session = db.session()
    return render_template(
        "admin/letters.html",
        pending=letters.pending_count(session),
        batches=letters.batches(session),
    )


@bp.get("/letters/batch")
@admin_required()
def letters_confirm() -> Any:
    """The confirmation step: what a print batch will hold, and its deadlines."""
    day = runtime.business_today()
    return render_template(
        "admin/letters_confirm.html",
        pending=letters.pending_count(db.session()),
        day=day,
        deadline=letters.deadline(day),
    )


@bp.post("/letters/batch")
@admin_required()
def letters_batch() -> BaseResponse:
    """Print every waiting letter into one PDF, dated today; they count as sent."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    batch = letters.make_batch(
        db.session(),
        actor(),
        runtime.business_today(),
        LetterWriter(runtime.settings()),
        letters_pdf,
    )
    db.session.commit()
    if batch is None:
        flash(_("No letters to print."), "warning")
        return redirect(url_for("admin.letters_page"), 303)
    flash(_("Print batch %(id)d made with %(n)d letters.", id=batch.id, n=batch.count), "success")
    return redirect(url_for("admin.letters_page") + f"#batch-{batch.id}", 303)


@bp.get("/letters/batches/<int:batch_id>.pdf")
@admin_required()
def letters_download(batch_id: int) -> Any:
    """The PDF of a print batch, as it was printed."""
    batch = db.session.scalars(
        select(PrintBatch).where(PrintBatch.id == batch_id).options(undefer(PrintBatch.pdf))
    ).first()
    if batch is None or not batch.pdf:
        abort(404)
    response = make_response(batch.pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="letters-{batch.printed_on.isoformat()}-{batch.id}.pdf"'
    )
    return response
