"""Admin: API keys per brand (full admins): create (the key is shown once), revoke, and the
right to add invoices to existing customers."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin import bp
from admin.session import actor, admin_required
from portal import runtime
from portal.db import db
from portal.domain import api, audit, embed
from portal.forms import ConfirmForm
from portal.models import ApiKey, Brand


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    session = db.session()
    return render_template(
        "admin/api_keys.html",
        keys=api.keys_of_brands(session),
        brands=list(session.scalars(select(Brand).order_by(Brand.name))),
        test_allowed=not runtime.settings().is_production,
        origins={b.id: embed.origins_of(session, b.id) for b in session.scalars(select(Brand))},
        **extra,
    ), status


@bp.get("/api-keys")
@admin_required(full_admin=True)
def api_keys() -> tuple[str, int]:
    return _page()


@bp.post("/api-keys")
@admin_required(full_admin=True)
def api_key_create() -> Any:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    brand = db.session.get(Brand, request.form.get("brand_id", type=int) or 0)
    label = request.form.get("label", "").strip()
    test_mode = request.form.get("mode") == "test"
    problems = []
    if brand is None:
        problems.append(_("choose a brand"))
    if not label:
        problems.append(_("give the key a label, such as the shop's name"))
    if test_mode and runtime.settings().is_production:
        problems.append(_("test keys pay through the sandbox, which never runs in production"))
    if problems or brand is None:
        return _page(422, problems=problems, form=request.form)
    key, raw = api.create_key(db.session(), brand, label, test_mode=test_mode, actor=actor())
    db.session.commit()
    # shown this once: only its hash is kept (the page is sent with no-store)
    return _page(new_key=raw, new_key_row=key)


@bp.route("/api-keys/<int:key_id>/revoke", methods=["GET", "POST"])
@admin_required(full_admin=True)
def api_key_revoke(key_id: int) -> Any:
    key = db.session.get(ApiKey, key_id) or abort(404)
    if request.method == "GET":
        return render_template("admin/api_key_revoke.html", key=key)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if api.revoke_key(db.session(), key, actor()):
        flash(
            _("Key %(label)s is revoked; requests with it now get 401.", label=key.label),
            "success",
        )
    db.session.commit()
    return redirect(url_for("admin.api_keys"), 303)


@bp.post("/api-keys/<int:key_id>/existing-customers")
@admin_required(full_admin=True)
def api_key_existing(key_id: int) -> Any:
    """Let a key add invoices to customers it did not create (imported ones), or stop it."""
    key = db.session.get(ApiKey, key_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    allowed = request.form.get("allow") == "1"
    if api.allow_existing(db.session(), key, allowed, actor()):
        if allowed:
            message = _(
                "Key %(label)s may now add invoices to existing customers; it still cannot "
                "read or change their contact data.",
                label=key.label,
            )
        else:
            message = _("Key %(label)s works on its own customers only.", label=key.label)
        flash(message, "success")
    db.session.commit()
    return redirect(url_for("admin.api_keys"), 303)


@bp.post("/api-keys/framing/<int:brand_id>")
@admin_required(full_admin=True)
def frame_origins(brand_id: int) -> Any:
    """The sites that may show this brand's pay page in a frame."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    brand = db.session.get(Brand, brand_id) or abort(404)
    text = request.form.get("origins", "")
    try:
        origins = embed.parse_origins(text, production=runtime.settings().is_production)
    except embed.BadOrigin as exc:
        problem = _(
            "Not a site address such as https://shop.example.com (no path): %(value)s",
            value=str(exc),
        )
        return _page(422, frame_problems={brand_id: problem}, frame_typed={brand_id: text})
    embed.set_origins(db.session(), brand, origins)
    audit.record(db.session(), actor(), "brand.frame_origins", brand=brand.id, origins=origins)
    db.session.commit()
    flash(
        _("The sites that may show the pay page of %(brand)s are saved.", brand=brand.name),
        "success",
    )
    return redirect(url_for("admin.api_keys"), 303)
