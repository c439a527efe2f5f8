"""A debtor's personal data (GDPR): export everything in one ZIP, erase on request.
Full admins only; both are audited (domain/personal_data.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from admin import bp
from admin.forms import EraseForm
from admin.session import actor, admin_required
from portal.db import db
from portal.domain import audit, personal_data
from portal.forms import ConfirmForm
from portal.models import Debtor, utcnow


def _debtor(debtor_id: int, *, lock: bool = False) -> Debtor:
    stmt = select(Debtor).where(Debtor.id == debtor_id)
    if lock:  # two admins erasing at once: the second finds it done
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt).first() or abort(404)


@bp.post("/debtors/<int:debtor_id>/export")
@admin_required(full_admin=True)
def debtor_export(debtor_id: int) -> Response:
    """Everything the portal holds about the debtor, as one ZIP (data.json, overview.html,
    invoice PDFs and attachments)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    debtor = _debtor(debtor_id)
    collected = personal_data.collect(db.session(), debtor.id)
    overview = render_template(
        "admin/personal_data.html", debtor=debtor, data=collected.data, files=collected.files
    )
    archive = personal_data.to_zip(collected, overview)
    audit.record(db.session(), actor(), "debtor.exported", debtor_id=debtor.id)
    db.session.commit()
    name = f"personal-data-{debtor.number}-{utcnow():%Y%m%d}.zip"
    response = Response(archive, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{_ascii(name)}"'
    return response


@bp.route("/debtors/<int:debtor_id>/erase", methods=["GET", "POST"])
@admin_required(full_admin=True)
def debtor_erase(debtor_id: int) -> Any:
    """Ask for confirmation, then anonymise the debtor (the bookkeeping stays)."""
    form = EraseForm()
    debtor = _debtor(debtor_id, lock=form.is_submitted())
    refused = personal_data.refusal(db.session(), debtor)
    if form.validate_on_submit() and not refused:
        if (form.number.data or "").strip() != debtor.number:
            form.number.errors = [_("That is not this debtor's customer number.")]
        else:
            cache = Path(current_app.instance_path) / "cache" / "pdf"
            personal_data.erase(db.session(), debtor, by=actor(), cache_dir=cache)
            db.session.commit()
            flash(_("The debtor's personal data is erased; the bookkeeping is kept."), "success")
            return redirect(url_for("admin.debtor_detail", debtor_id=debtor.id), 303)
    status = 200
    if form.is_submitted():
        status = 409 if refused else 422
    return render_template(
        "admin/debtor_erase.html", debtor=debtor, form=form, refused=refused
    ), status


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
