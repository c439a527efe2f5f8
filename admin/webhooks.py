"""Admin: outgoing webhooks per brand (target URL, secret shown once) and the delivery log."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin import bp
from admin.session import actor, admin_required
from portal import dispatch, runtime
from portal.db import db
from portal.domain import audit, outgoing
from portal.forms import ConfirmForm
from portal.models import Brand, WebhookEndpoint, WebhookEvent


def _allow_private() -> bool:
    return bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE"))


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    session = db.session()
    brands = list(session.scalars(select(Brand).order_by(Brand.name)))
    endpoints = {e.brand_id: e for e in session.scalars(select(WebhookEndpoint))}
    return render_template(
        "admin/webhooks.html",
        brands=brands,
        endpoints=endpoints,
        events=outgoing.recent(session),
        production=runtime.settings().is_production,
        **extra,
    ), status


def _checked_form() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


@bp.get("/webhooks")
@admin_required(full_admin=True)
def webhooks() -> tuple[str, int]:
    return _page()


@bp.post("/webhooks/<int:brand_id>")
@admin_required(full_admin=True)
def webhook_save(brand_id: int) -> Any:
    _checked_form()
    brand = db.session.get(Brand, brand_id) or abort(404)
    try:
        endpoint, secret = outgoing.save_endpoint(
            db.session(),
            brand,
            request.form.get("url", ""),
            production=runtime.settings().is_production,
            allow_private=_allow_private(),
        )
    except outgoing.UnsafeTarget as exc:
        db.session.rollback()
        problem = _("This address cannot receive webhooks: %(reason)s.", reason=str(exc))
        return _page(422, problems={brand_id: problem}, typed={brand_id: request.form.get("url")})
    audit.record(db.session(), actor(), "webhook.saved", brand=brand.id, url=endpoint.url)
    db.session.commit()
    if secret:
        return _page(new_secret=secret, secret_brand=brand)
    flash(_("The webhook address of %(brand)s is saved.", brand=brand.name), "success")
    return redirect(url_for("admin.webhooks"), 303)


@bp.post("/webhooks/<int:brand_id>/secret")
@admin_required(full_admin=True)
def webhook_rotate(brand_id: int) -> Any:
    _checked_form()
    brand = db.session.get(Brand, brand_id) or abort(404)
    endpoint = db.session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.brand_id == brand_id)
    ) or abort(404)
    secret = outgoing.rotate_secret(endpoint)
    audit.record(db.session(), actor(), "webhook.secret_rotated", brand=brand.id)
    db.session.commit()
    return _page(new_secret=secret, secret_brand=brand)


@bp.post("/webhooks/<int:brand_id>/test")
@admin_required(full_admin=True)
def webhook_test(brand_id: int) -> Any:
    _checked_form()
    brand = db.session.get(Brand, brand_id) or abort(404)
    outgoing.test_event(db.session(), brand)
    db.session.commit()
    flash(_("A test event is on its way; its result shows in the log below."), "success")
    return redirect(url_for("admin.webhooks"), 303)


@bp.post("/webhooks/events/<int:event_id>/resend")
@admin_required(full_admin=True)
def webhook_resend(event_id: int) -> Any:
    _checked_form()
    event = db.session.get(WebhookEvent, event_id) or abort(404)
    outgoing.resend(db.session(), event)
    audit.record(db.session(), actor(), "webhook.resent", event=event.id)
    dispatch.later(db.session(), "deliver_webhooks")  # an old event: no new row to notice
    db.session.commit()
    flash(_("The event is sent again; its result shows in the log below."), "success")
    return redirect(url_for("admin.webhooks"), 303)
