"""Admin batch import: upload, preview with row errors and column mapping, commit."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from openpyxl import Workbook
from sqlalchemy import select

from admin import bp
from admin.session import actor, admin_required
from portal import dispatch, runtime
from portal.db import db
from portal.domain import audit, liveness, sheets
from portal.domain.imports import engine, jobs, profiles
from portal.domain.imports.columns import LABELS
from portal.domain.imports.pdfs import MAX_ZIP_BYTES
from portal.domain.imports.readers import MAX_BYTES, ReadError
from portal.domain.params import whole
from portal.forms import ConfirmForm
from portal.htmx import is_htmx, redirect_to, render_page
from portal.i18n import message_text
from portal.models import Brand, ImportBatch, ImportJob, ImportProfile, utcnow

_HASH = re.compile(r"^[0-9a-f]{64}$")


def _uploads() -> jobs.Uploads:
    folder = Path(current_app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return jobs.Uploads(folder)


def _stored(file_hash: str) -> bytes:
    if not _HASH.match(file_hash):
        abort(404)
    path = _uploads().data(file_hash)
    if not path.exists():  # never uploaded, committed, a day old, or made room for newer ones
        abort(404)
    return path.read_bytes()


def _brand(brand_id: str | None) -> Brand:
    try:
        brand = db.session.get(Brand, int(brand_id or 0))
    except ValueError:
        brand = None
    return brand or abort(404)


def _mapping(args: Any) -> dict[str, Any]:
    """Column choices from the mapping form: map_<field>=<column index> or '' (none)."""
    return {
        key[4:]: whole(value, low=0)
        for key, value in args.items()
        if key.startswith("map_") and key[4:] in LABELS
    }


@bp.get("/imports")
@admin_required()
def imports() -> str:
    brands = list(db.session.scalars(select(Brand).order_by(Brand.name)))
    batches = list(
        db.session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(20))
    )
    running = list(
        db.session.scalars(
            select(ImportJob)
            .where(ImportJob.status.in_(("queued", "running", "failed")))
            .order_by(ImportJob.id.desc())
            .limit(10)
        )
    )
    return render_template(
        "admin/imports.html",
        brands=brands,
        batches=batches,
        error=None,
        profiles=_all_profiles(),
        jobs=running,
    )


def _all_profiles() -> list[tuple[Brand, ImportProfile]]:
    rows = db.session.execute(
        select(Brand, ImportProfile)
        .join(ImportProfile, ImportProfile.brand_id == Brand.id)
        .order_by(Brand.name, ImportProfile.last_used_at.desc())
    )
    return [(b, p) for b, p in rows]


@bp.post("/imports")
@admin_required()
def upload() -> Any:
    """Check an upload and keep it for the preview; nothing unchecked is written to disk."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    brand = _brand(request.form.get("brand_id"))
    upload_file = request.files.get("file")
    data = upload_file.read(MAX_BYTES + 1) if upload_file else b""
    if not data:
        return _refused(_("Choose a file to upload."))
    if len(data) > MAX_BYTES:
        return _refused(_("The file is larger than 50 MB. Split it into smaller files."))
    archive = request.files.get("pdfs")
    pdf_zip = archive.read(MAX_ZIP_BYTES + 1) if archive and archive.filename else b""
    quota = runtime.settings().uploads_quota_mb * 1024 * 1024
    try:
        file_hash = jobs.keep_upload(db.session(), _uploads(), data, pdf_zip, quota=quota)
    except (ReadError, jobs.UploadsFull) as exc:
        return _refused(exc.translated(_))
    name = (upload_file.filename if upload_file else "") or "upload"
    mode = "open_items" if request.form.get("mode") == "open_items" else "full"
    profile = request.form.get("profile", "")
    return redirect(
        url_for(
            "admin.import_preview",
            file_hash=file_hash,
            brand=brand.id,
            mode=mode,
            name=name[:120],
            profile=profile if profile.isdigit() else None,
        ),
        code=303,
    )


def _refused(error: str) -> tuple[str, int]:
    """The upload form again, saying why the file was not taken."""
    batches = list(
        db.session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(20))
    )
    return render_template(
        "admin/imports.html",
        brands=list(db.session.scalars(select(Brand).order_by(Brand.name))),
        batches=batches,
        error=error,
        profiles=_all_profiles(),
    ), 422


def _profile_and_form_mapping(brand: Brand, args: Any) -> dict[str, Any]:
    profile_id = args.get("profile", "")
    mapping = profiles.mapping_of(db.session(), brand.id, whole(profile_id))
    mapping.update(_mapping(args))  # choices made on the preview page win over the profile
    return mapping


def _run_preview(file_hash: str, args: Any) -> tuple[engine.Preview, Brand]:
    brand = _brand(args.get("brand"))
    mapping = _profile_and_form_mapping(brand, args)
    result = engine.preview(
        db.session(),
        _stored(file_hash),
        brand=brand,
        filename=args.get("name", "")[:120],
        mode="open_items" if args.get("mode") == "open_items" else "full",
        mapping=mapping or None,
        force=args.get("force") == "1",
        booking_lag_days=runtime.settings().import_booking_lag_days,
    )
    return result, brand


@bp.post("/imports/preview/<file_hash>/profile")
@admin_required()
def save_profile(file_hash: str) -> Any:
    """Remember the columns chosen for this file under a name, for the next upload."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    result, brand = _run_preview(file_hash, request.form)
    if result.header is None or not request.form.get("profile_name", "").strip():
        abort(400)
    profile = profiles.save(
        db.session(), brand.id, request.form["profile_name"], result.header, by=actor()
    )
    db.session.commit()
    keep: dict[str, Any] = {
        k: v for k, v in request.form.items() if k in ("brand", "mode", "name", "force")
    }
    return redirect(
        url_for("admin.import_preview", file_hash=file_hash, profile=profile.id, **keep), code=303
    )


@bp.get("/imports/preview/<file_hash>")
@admin_required()
def import_preview(file_hash: str) -> str:
    result, brand = _run_preview(file_hash, request.args)
    db.session.rollback()  # a preview never writes
    return _preview_page(result, brand, file_hash, request.args)


def _preview_page(result: engine.Preview, brand: Brand, file_hash: str, args: Any) -> str:
    return render_template(
        "admin/import_preview.html",
        result=result,
        brand=brand,
        file_hash=file_hash,
        args=args,
        labels=LABELS,
        shown=result.issues[:500],
        pdf_match=jobs.pdf_match(_uploads(), file_hash, result, keep=False),
    )


@bp.get("/imports/preview/<file_hash>/errors.xlsx")
@admin_required()
def import_errors(file_hash: str) -> Response:
    """The rows with problems and a column saying what to change, to fix and upload again."""
    result, _unused = _run_preview(file_hash, request.args)
    db.session.rollback()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Errors"))
    ws.append([_("Row"), _("Column"), _("Value"), _("Problem"), _("Kind")])
    for issue in result.issues:
        kind = _("Warning") if issue.severity == "warning" else _("Error")
        column = _(issue.column) if issue.column else ""
        row = [issue.line or None, column, issue.value, message_text(issue), kind]
        ws.append(sheets.xlsx_row(ws, row))  # values come from the uploaded file
    buffer = io.BytesIO()
    wb.save(buffer)
    response = Response(
        buffer.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response.headers["Content-Disposition"] = 'attachment; filename="import-errors.xlsx"'
    return response


@bp.post("/imports/preview/<file_hash>")
@admin_required()
def import_commit(file_hash: str) -> Any:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    result, brand = _run_preview(file_hash, request.form)
    if not result.can_commit:
        db.session.rollback()
        return _preview_page(result, brand, file_hash, request.form), 422
    uploads = _uploads()
    if uploads.data(file_hash).stat().st_size > current_app.config["IMPORT_BACKGROUND_BYTES"]:
        return _start_job(file_hash, brand, result, request.form)
    notify = request.form.get("notify") == "1"
    done = jobs.commit_upload(
        db.session(), uploads, file_hash, result, brand=brand, by=actor(), notify=notify
    )
    if notify:
        dispatch.later(db.session(), "notify_new_invoices", done.batch_id)
    db.session.commit()
    uploads.forget(file_hash)
    return redirect(url_for("admin.import_batch", batch_id=done.batch_id), code=303)


def _start_job(file_hash: str, brand: Brand, result: engine.Preview, args: Any) -> Any:
    """Large files are committed by the worker; the admin watches, or leaves and comes back."""
    db.session.rollback()  # the preview's reads; the job checks everything again
    job = ImportJob(
        brand_id=brand.id,
        file_hash=file_hash,
        filename=result.filename,
        options={
            "mode": result.mode,
            "force": args.get("force") == "1",
            "mapping": _profile_and_form_mapping(brand, args) or None,
            "booking_lag_days": result.booking_lag_days,
            "notify": args.get("notify") == "1",
        },
        created_by=actor(),
    )
    db.session.add(job)
    audit.record(db.session(), actor(), "admin.import_job_started", rows=len(result.rows))
    db.session.flush()  # the job's id, for the worker
    dispatch.later(db.session(), "run_import_job", job.id)
    db.session.commit()
    return redirect(url_for("admin.import_job", job_id=job.id), code=303)


@bp.get("/imports/jobs/<int:job_id>")
@admin_required()
def import_job(job_id: int) -> Any:
    """A background import's progress; htmx polls the partial until the job ends. A job
    whose worker died (no heartbeat) is marked failed here too: no worker may be left to
    notice."""
    job = db.session.get(ImportJob, job_id) or abort(404)
    if job.status == "running" and liveness.stale(job.heartbeat_at, utcnow()):
        liveness.reap(db.session(), utcnow())
        db.session.commit()
        db.session.refresh(job)
    if is_htmx() and job.status == "done" and job.batch_id:
        return redirect_to(url_for("admin.import_batch", batch_id=job.batch_id))
    return render_page(
        "admin/import_job.html",
        "admin/_import_job.html",
        job=job,
        progress=_uploads().progress(job.id),
        can_restart=job.status == "failed" and _uploads().data(job.file_hash).exists(),
        form=ConfirmForm(),
    )


@bp.post("/imports/jobs/<int:job_id>/restart")
@admin_required()
def import_job_restart(job_id: int) -> Any:
    """Start a failed job again (the worker died, or the cause was fixed)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    job = jobs.restart(db.session(), job_id, _uploads(), actor())
    if job is None:
        db.session.rollback()
        abort(409, _("Someone else just started this import again, or its file is gone."))
    dispatch.later(db.session(), "run_import_job", job.id)
    db.session.commit()
    return redirect(url_for("admin.import_job", job_id=job.id), code=303)


@bp.get("/imports/<int:batch_id>")
@admin_required()
def import_batch(batch_id: int) -> str:
    batch = db.session.get(ImportBatch, batch_id) or abort(404)
    return render_template(
        "admin/import_batch.html", batch=batch, brand=db.session.get(Brand, batch.brand_id)
    )
