"""Admins edit the texts of reminders and system mails per brand and language, with a live
preview for a real debtor, a test mail to themselves, and version history with revert."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.session import actor, admin_required, current_admin
from portal import runtime
from portal.db import db
from portal.domain.messaging import sms, templates
from portal.domain.messaging.outbox import LOGO_CID, queue_email
from portal.domain.params import whole
from portal.forms import ConfirmForm
from portal.htmx import sandboxed_html
from portal.mails import logo_data_uri, preview_composer, sample_contexts, sender_for
from portal.models import LANGUAGES, AdminUser, Brand, Debtor, Invoice, TemplatePreview, utcnow

PART_NAMES = {"subject": _l("Subject"), "html": _l("HTML body"), "text": _l("Plain text")}
SMS_PART_NAMES = {**PART_NAMES, "text": _l("Text")}
PREVIEW_MINUTES = 30
PREVIEW_DEBTORS = 200


def _me() -> AdminUser:
    """The signed-in admin (the views here require one)."""
    return current_admin() or abort(403)


def _brand(brand_id: int) -> Brand:
    return db.session.get(Brand, brand_id) or abort(404)


def _check_key(key: str, language: str) -> None:
    if key not in templates.SPECS or language not in LANGUAGES:
        abort(404)


@bp.get("/messages")
@admin_required(full_admin=True)
def message_list() -> str:
    """Every message per brand and language: default or edited (with its version)."""
    brands = list(db.session.scalars(select(Brand).order_by(Brand.name)))
    raw = request.args.get("brand", "")
    chosen = next((b for b in brands if str(b.id) == raw), brands[0] if brands else None)
    return render_template(
        "admin/messages.html",
        brands=brands,
        brand=chosen,
        edited=templates.edited(db.session(), chosen.id) if chosen else {},
        specs=templates.SPECS,
        languages=LANGUAGES,
    )


def _source_from_form() -> templates.Source:
    return templates.Source(
        request.form.get("subject", ""),
        request.form.get("html", "").replace("\r\n", "\n"),
        request.form.get("text", "").replace("\r\n", "\n"),
    )


def _debtors_for_preview(brand: Brand) -> list[Debtor]:
    """The brand's debtors with open invoices, to preview a message for."""
    with_open = select(Invoice.debtor_id).where(Invoice.open_cents > 0)
    return list(
        db.session.scalars(
            select(Debtor)
            .where(Debtor.brand_id == brand.id, Debtor.id.in_(with_open))
            .order_by(Debtor.name)
            .limit(PREVIEW_DEBTORS)
        )
    )


def _preview_debtor(brand: Brand) -> Debtor | None:
    debtor_id = whole(request.values.get("debtor_id", ""))
    if debtor_id is None:
        return None
    debtor = db.session.get(Debtor, debtor_id)
    return debtor if debtor is not None and debtor.brand_id == brand.id else None


def _editor(
    brand: Brand,
    key: str,
    language: str,
    source: templates.Source,
    faults: list[templates.Fault] | None = None,
    preview: dict[str, Any] | None = None,
    notice: str = "",
) -> str:
    session = db.session()
    return render_template(
        "admin/message_edit.html",
        brand=brand,
        key=key,
        language=language,
        key_name=_(templates.SPECS[key].title),
        source=source,
        faults=faults or [],
        part_names=_part_names(key),
        spec=templates.SPECS[key],
        variable_help=templates.VARIABLE_HELP,
        versions=templates.history(session, brand.id, key, language),
        debtors=_debtors_for_preview(brand),
        debtor=_preview_debtor(brand),
        preview=preview or _preview(brand, key, language, source),
        languages=LANGUAGES,
        notice=notice,
    )


@bp.get("/messages/<int:brand_id>/<key>/<language>")
@admin_required(full_admin=True)
def message_edit(brand_id: int, key: str, language: str) -> str:
    """The editor with the text in use, the preview and the versions."""
    _check_key(key, language)
    brand = _brand(brand_id)
    return _editor(brand, key, language, templates.current(db.session(), brand.id, key, language))


def _part_names(key: str) -> dict[str, Any]:
    return SMS_PART_NAMES if templates.SPECS[key].group == "sms" else PART_NAMES


def _preview(brand: Brand, key: str, language: str, source: templates.Source) -> dict[str, Any]:
    """Check `source` and render it for the chosen debtor (or a made-up one)."""
    session = db.session()
    settings = runtime.settings()
    sample = sample_contexts(session, brand, key, language, settings, runtime.business_today())
    faults = templates.check(key, source, sample)
    if faults:
        return {"faults": faults}
    composer = preview_composer(
        session, brand, key, language, settings, runtime.business_today(), _preview_debtor(brand)
    )
    try:  # the chosen debtor may have more invoices than the samples: a cap may still hit
        if templates.SPECS[key].group == "sms":
            text = composer.render_sms(source)
            segments, _left = sms.sms_segments(text)
            return {
                "faults": [],
                "sms": True,
                "text": text,
                "chars": len(text),
                "segments": segments,
            }
        subject, text, html = composer.render(source, logo_data_uri(brand))
    except templates.InvalidTemplate as exc:
        return {"faults": exc.faults}
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(
        delete(TemplatePreview).where(
            TemplatePreview.created_at < now - dt.timedelta(minutes=PREVIEW_MINUTES)
        )
    )
    session.add(TemplatePreview(token=token, admin_user_id=_me().id, html=html))
    session.commit()
    return {"faults": [], "subject": subject, "text": text, "token": token}


@bp.post("/messages/<int:brand_id>/<key>/<language>/preview")
@admin_required(full_admin=True)
def message_preview(brand_id: int, key: str, language: str) -> str:
    """The live preview of the text being edited (htmx), saved nowhere."""
    _check_key(key, language)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    brand = _brand(brand_id)
    preview = _preview(brand, key, language, _source_from_form())
    return render_template(
        "admin/_message_preview.html",
        preview=preview,
        part_names=_part_names(key),
        brand=brand,
        key=key,
        language=language,
    )


@bp.get("/messages/preview/<token>")
@admin_required(full_admin=True)
def message_preview_html(token: str) -> Any:
    """A rendered preview, sandboxed like the outbox viewer; only for the admin who made it."""
    row = db.session.get(TemplatePreview, token)
    if row is None or row.admin_user_id != _me().id:
        abort(404)
    return sandboxed_html(row.html)


@bp.post("/messages/<int:brand_id>/<key>/<language>")
@admin_required(full_admin=True)
def message_save(brand_id: int, key: str, language: str) -> Any:
    """Save the text as a new version, or show why it is refused."""
    _check_key(key, language)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    brand = _brand(brand_id)
    source = _source_from_form()
    settings = runtime.settings()
    sample = sample_contexts(db.session(), brand, key, language, settings, runtime.business_today())
    try:
        row = templates.save(db.session(), brand.id, key, language, source, actor(), sample)
    except templates.InvalidTemplate as exc:
        db.session.rollback()
        return _editor(brand, key, language, source, exc.faults, {"faults": exc.faults}), 422
    db.session.commit()
    flash(_("Saved as version %(n)d. It is used from now on.", n=row.version), "success")
    return _to_editor(brand, key, language)


def _to_editor(brand: Brand, key: str, language: str) -> BaseResponse:
    return redirect(
        url_for("admin.message_edit", brand_id=brand.id, key=key, language=language), 303
    )


@bp.post("/messages/<int:brand_id>/<key>/<language>/revert")
@admin_required(full_admin=True)
def message_revert(brand_id: int, key: str, language: str) -> BaseResponse:
    """Use an earlier version (0: the default text) again, as a new version."""
    _check_key(key, language)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    brand = _brand(brand_id)
    version = whole(request.form.get("version", ""), low=0)  # 0: the shipped default
    settings = runtime.settings()
    sample = sample_contexts(db.session(), brand, key, language, settings, runtime.business_today())
    try:
        row = templates.revert(
            db.session(),
            brand.id,
            key,
            language,
            -1 if version is None else version,
            actor(),
            sample,
        )
    except (LookupError, templates.InvalidTemplate):
        db.session.rollback()
        flash(_("That version cannot be used again."), "error")
        return _to_editor(brand, key, language)
    db.session.commit()
    flash(_("The earlier text is in use again, as version %(n)d.", n=row.version), "success")
    return _to_editor(brand, key, language)


@bp.post("/messages/<int:brand_id>/<key>/<language>/test")
@admin_required(full_admin=True)
def message_test(brand_id: int, key: str, language: str) -> Any:
    """Mail the text being edited, as the chosen debtor would get it, to the admin."""
    _check_key(key, language)
    if "html" not in templates.SPECS[key].parts:
        abort(404)  # an SMS has no mail to test
    if not ConfirmForm().validate_on_submit():
        abort(400)
    brand = _brand(brand_id)
    source = _source_from_form()
    settings = runtime.settings()
    session = db.session()
    sample = sample_contexts(session, brand, key, language, settings, runtime.business_today())
    faults = templates.check(key, source, sample)
    if faults:
        return _editor(brand, key, language, source, faults, {"faults": faults}), 422
    composer = preview_composer(
        session, brand, key, language, settings, runtime.business_today(), _preview_debtor(brand)
    )
    try:
        subject, text, html = composer.render(source, f"cid:{LOGO_CID}")
    except templates.InvalidTemplate as exc:
        return _editor(brand, key, language, source, exc.faults, {"faults": exc.faults}), 422
    admin = _me()
    queue_email(
        session,
        kind="template_test",
        recipient=admin.email,
        subject=_("[Test] %(subject)s", subject=subject),
        body_text=text,
        body_html=html,
        sender=sender_for(brand, settings),
        brand_id=brand.id,
    )
    session.commit()
    brand = _brand(brand_id)  # sending may have closed the session
    # the editor again, with the unsaved text still in it
    notice = _("A test mail is on its way to %(email)s.", email=admin.email)
    return _editor(brand, key, language, source, notice=notice)
