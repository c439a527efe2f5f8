"""Admin settings: brands (colours, font, logo, contact data) and segments (payment terms)."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin import bp
from admin.session import actor, admin_required
from portal.db import db
from portal.domain import audit
from portal.domain.brands import (
    BrandError,
    check_colours,
    contrast_ratio,
    reencode_logo,
    safe_color,
    text_on,
)
from portal.domain.money import parse_amount
from portal.domain.params import whole
from portal.domain.payments.providers.base import Method
from portal.forms import ConfirmForm
from portal.models import FONTS, LANGUAGES, Brand, ReminderSchedule, Segment

BRAND_TEXT_FIELDS = {
    "name": 120,
    "sender_name": 120,
    "sender_email": 254,
    "support_email": 254,
    "support_phone": 40,
    "iban": 34,
    "enterprise_number": 20,
    "vat_number": 20,
    "address": 250,
}


@bp.get("/brands")
@admin_required(full_admin=True)
def brands() -> str:
    rows = list(db.session.scalars(select(Brand).order_by(Brand.name)))
    return render_template("admin/brands.html", brands=rows)


@bp.route("/brands/<int:brand_id>", methods=["GET", "POST"])
@admin_required(full_admin=True)
def brand_edit(brand_id: int) -> Any:
    brand = db.session.get(Brand, brand_id) or abort(404)
    problems: list[str] = []
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        form = request.form
        primary = form.get("primary_color", "").strip().lower()
        accent = form.get("accent_color", "").strip().lower()
        problems = check_colours(primary, accent)
        if form.get("font") not in FONTS:
            problems.append(_("choose a font from the list"))
        if form.get("default_language") not in LANGUAGES:
            problems.append(_("choose a language from the list"))
        kind = form.get("default_debtor_kind", brand.default_debtor_kind)
        if kind not in ("b2c", "b2b"):
            problems.append(_("choose consumers or businesses"))
        if not form.get("name", "").strip():
            problems.append(_("the brand needs a name"))
        methods = [m.value for m in Method if m.value in form.getlist("payment_methods")]
        if not methods:
            problems.append(_("offer at least one payment method"))
        logo = request.files.get("logo")
        logo_png = None
        if logo and logo.filename:
            try:
                logo_png = reencode_logo(logo.read(3 * 1024 * 1024))
            except BrandError as exc:
                problems.append(str(exc))
        if not problems:
            changed = []
            for field, limit in BRAND_TEXT_FIELDS.items():
                value = form.get(field, "").strip()[:limit]
                if getattr(brand, field) != value:
                    setattr(brand, field, value)
                    changed.append(field)
            for field, value in (
                ("primary_color", primary),
                ("accent_color", accent),
                ("font", form["font"]),
                ("default_language", form["default_language"]),
                ("default_debtor_kind", kind),
                ("payment_methods", ",".join(methods)),
            ):
                if getattr(brand, field) != value:
                    setattr(brand, field, value)
                    changed.append(field)
            if logo_png:
                brand.logo, brand.logo_mime = logo_png, "image/png"
                changed.append("logo")
            if changed:
                audit.record(
                    db.session(), actor(), "admin.brand_updated", brand=brand.slug, fields=changed
                )
            db.session.commit()
            return redirect(url_for("admin.brand_edit", brand_id=brand.id, saved=1), code=303)
    return render_template(
        "admin/brand.html",
        brand=brand,
        values=request.form if request.method == "POST" else None,
        problems=problems,
        fonts=FONTS,
        method_choices=[m.value for m in Method],
        saved=request.args.get("saved"),
        contrast=lambda colour: contrast_ratio(safe_color(colour, "#1d4ed8"), "#ffffff"),
    ), (422 if problems else 200)


@bp.get("/brands/preview")
@admin_required(full_admin=True)
def brand_preview() -> str:
    """The portal header in the colours and font being chosen (htmx partial)."""
    primary = safe_color(request.args.get("primary_color", ""), "#1d4ed8")
    return render_template(
        "admin/_brand_preview.html",
        name=request.args.get("name", "")[:120],
        args=request.args,
        ratio=contrast_ratio(primary, "#ffffff"),
    )


@bp.get("/brands/preview.css")
@admin_required(full_admin=True)
def brand_preview_css() -> Response:
    """Colours and font for the preview box only (the CSP forbids inline styles)."""
    primary = safe_color(request.args.get("primary_color", ""), "#1d4ed8")
    accent = safe_color(request.args.get("accent_color", ""), "#f59e0b")
    font = FONTS.get(request.args.get("font", ""), FONTS["system"])
    css = (
        f".brand-preview {{ --preview-primary: {primary}; --preview-accent: {accent}; "
        f"--preview-on-primary: {text_on(primary)}; font-family: {font}; }}"
    )
    return Response(css, mimetype="text/css")


@bp.route("/segments", methods=["GET", "POST"])
@admin_required()
def segments() -> Any:
    error = None
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        name = request.form.get("name", "").strip()[:80]
        term = request.form.get("payment_term_days", "")
        allow_partial = request.form.get("allow_partial") == "1"
        partial_min = _cents_or_none(request.form.get("partial_min", "25"))
        if not name or not term.isdigit() or not 0 <= int(term) <= 365:
            error = _("Give the segment a name and a payment term between 0 and 365 days.")
        elif partial_min is None or partial_min < 100:
            error = _("The minimum part payment is an amount of at least 1.00.")
        else:
            segment_id = request.form.get("segment_id", "")
            segment = db.session.get(Segment, whole(segment_id) or 0)
            clash = db.session.scalar(select(Segment.id).where(Segment.name == name))
            if clash and (segment is None or clash != segment.id):
                error = _("There is already a segment with that name.")
            else:
                if segment is None:
                    segment = Segment(name=name, payment_term_days=int(term))
                    db.session.add(segment)
                else:
                    segment.name, segment.payment_term_days = name, int(term)
                segment.allow_partial, segment.partial_min_cents = allow_partial, partial_min
                raw_schedule = request.form.get("schedule_id", "")
                segment.schedule_id = (
                    int(raw_schedule)
                    if raw_schedule.isdigit()
                    and db.session.get(ReminderSchedule, int(raw_schedule)) is not None
                    else None
                )
                audit.record(
                    db.session(),
                    actor(),
                    "admin.segment_saved",
                    segment=name,
                    payment_term_days=int(term),
                    allow_partial=allow_partial,
                    partial_min_cents=partial_min,
                )
                db.session.commit()
                return redirect(url_for("admin.segments"), code=303)
    rows = list(db.session.scalars(select(Segment).order_by(Segment.name)))
    schedule_rows = list(db.session.scalars(select(ReminderSchedule).order_by(ReminderSchedule.id)))
    return render_template(
        "admin/segments.html", segments=rows, schedules=schedule_rows, error=error
    ), (422 if error else 200)


def _cents_or_none(text: str) -> int | None:
    try:
        return parse_amount(text)
    except ValueError:
        return None
