"""Admin pages for payments: list, detail with the webhook log, re-check, export;
pay-links and second chances from the invoice page."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.session import actor, admin_required
from portal import runtime
from portal.db import db
from portal.domain import audit, embed
from portal.domain.params import whole
from portal.domain.payments import listing, paylinks, second_chance, service
from portal.domain.payments.providers.base import Ignored, Method, ProviderError, Status
from portal.domain.payments.providers.registry import names
from portal.forms import ConfirmForm
from portal.htmx import render_page
from portal.mails import pay_link_url
from portal.models import Brand, Invoice, PayLink, Payment

# Colour goes with the words, never instead of them; anything not listed is "open" blue.
_BADGE_CLASS: dict[str, str] = {
    Status.PAID: "badge-paid",
    Status.FAILED: "badge-overdue",
    Status.CHARGED_BACK: "badge-overdue",
    Status.REFUNDED: "badge-muted",
    Status.CANCELED: "badge-muted",
    Status.EXPIRED: "badge-muted",
}


def status_word(status: str) -> str:
    """A payment status as people read it; code says 'canceled', the UI 'Cancelled'."""
    words: dict[str, str] = {
        Status.CREATED: _("Created"),
        Status.OPEN: _("Open"),
        Status.PENDING: _("Pending"),
        Status.AUTHORIZED: _("Authorized"),
        Status.PAID: _("Paid"),
        Status.FAILED: _("Failed"),
        Status.CANCELED: _("Cancelled"),
        Status.EXPIRED: _("Expired"),
        Status.REFUNDED: _("Refunded"),
        Status.CHARGED_BACK: _("Charged back"),
    }
    return words.get(status, status)


def status_badge(status: str) -> Markup:
    """A payment status in words and colour together."""
    css = _BADGE_CLASS.get(status, "badge-open")
    return Markup('<span class="badge {}">{}</span>').format(css, status_word(status))


@bp.context_processor
def payment_helpers() -> dict[str, Any]:
    """Helpers for the payment templates (also the payments part of the invoice page)."""
    return {
        "payment_status": status_badge,
        "payment_status_word": status_word,
    }


def _back(endpoint: str, anchor: str = "", **values: Any) -> BaseResponse:
    return redirect(url_for(endpoint, **values) + anchor, code=303)


# ------------------------------------------------------------------ payments
@bp.get("/payments")
@admin_required()
def payments() -> Any:
    """Payments, newest first, filtered (the rows alone for htmx)."""
    flt = listing.PaymentFilter.parse(request.args.to_dict())
    rows, has_next = listing.admin_list(db.session(), flt)
    return render_page(
        "admin/payments.html",
        "admin/_payment_rows.html",
        rows=rows,
        has_next=has_next,
        flt=flt,
        statuses=list(Status),
        providers=names(),
        methods=[m.value for m in Method],
        brands=list(db.session.scalars(select(Brand).order_by(Brand.name))),
    )


@bp.get("/payments.csv")
@admin_required()
def payments_export() -> Response:
    """The filtered payments for booking in the accounting package."""
    flt = listing.PaymentFilter.parse(request.args.to_dict())
    response = Response(listing.export_csv(db.session(), flt), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="payments.csv"'
    return response


@bp.get("/payments/<int:payment_id>")
@admin_required()
def payment_detail(payment_id: int) -> str:
    """One payment: amounts, bookings per invoice, and its webhook log."""
    payment = db.session.get(Payment, payment_id) or abort(404)
    return render_template(
        "admin/payment.html",
        payment=payment,
        deliveries=listing.deliveries(db.session(), payment),
    )


@bp.post("/payments/<int:payment_id>/recheck")
@admin_required()
def payment_recheck(payment_id: int) -> BaseResponse:
    """Ask the provider for the payment's state now and apply it."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    payment = db.session.get(Payment, payment_id) or abort(404)
    try:
        outcome = service.sync(
            db.session(), runtime.provider(payment.provider), payment.id, runtime.mails()
        )
    except ProviderError as exc:
        db.session.rollback()
        flash(
            _(
                "The provider could not be asked: %(error)s. Nothing was changed; try again later.",
                error=str(exc),
            ),
            "error",
        )
        return _back("admin.payment_detail", payment_id=payment_id)
    except Ignored as exc:
        db.session.rollback()
        flash(_("The provider does not know this payment: %(error)s", error=str(exc)), "error")
        return _back("admin.payment_detail", payment_id=payment_id)
    audit.record(
        db.session(),
        actor(),
        "admin.payment_rechecked",
        debtor_id=payment.debtor_id,
        payment=payment.public_id,
        old=str(outcome.old),
        new=str(outcome.new),
    )
    db.session.commit()
    old, new = status_word(outcome.old), status_word(outcome.new)
    if outcome.changed:
        flash(_("Status changed: %(old)s → %(new)s", old=old, new=new), "success")
    elif outcome.note:
        note = outcome.note
        flash(_("Status unchanged: %(status)s (%(note)s)", status=new, note=note), "warning")
    else:
        flash(_("Status unchanged: %(status)s", status=new), "success")
    return _back("admin.payment_detail", payment_id=payment_id)


def invoice_payments(invoice_id: int) -> list[Payment]:
    """Payments that include an invoice, newest first (invoice page)."""
    return list(
        db.session.scalars(
            select(Payment)
            .join(Payment.invoices)
            .where(Invoice.id == invoice_id)
            .order_by(Payment.created_at.desc(), Payment.id.desc())
        )
    )


# ------------------------------------------------------------------ pay-links
def link_views(invoice: Invoice) -> list[dict[str, Any]]:
    """Each pay-link of an invoice with its state and URL, for the invoice page."""
    settings = runtime.settings()
    views = []
    for link in paylinks.for_invoice(db.session(), invoice.id):
        state = paylinks.state_of(link)
        url = pay_link_url(link, settings)
        views.append(
            {
                "link": link,
                "state": state.value,
                "url": url,
                "others": [i.number for i in link.invoices if i.id != invoice.id],
                # what a shop pastes to offer this link: only while it can still be paid
                "embed": embed.snippets(url, invoice.brand, invoice.debtor.language)
                if state == paylinks.LinkState.USABLE
                else None,
            }
        )
    return views


@bp.post("/invoices/<int:invoice_id>/pay-links")
@admin_required()
def pay_link_create(invoice_id: int) -> BaseResponse:
    """A new pay-link for one open invoice, valid for 1 to 365 days."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    raw = request.form.get("days", "").strip() or str(runtime.settings().pay_link_days)
    days = whole(raw, high=3650) or 0
    if not 1 <= days <= 365:
        flash(_("Enter how many days the link stays valid: a whole number from 1 to 365."), "error")
    elif not second_chance.still_open([invoice]):
        flash(_("Only an invoice with an open amount can get a pay-link."), "error")
    else:
        paylinks.create(db.session(), invoice.debtor, [invoice], actor=actor(), days=days)
        db.session.commit()
        flash(_("Pay-link created. Copy it from the list below."), "success")
    return _back("admin.invoice_detail", "#pay-links", invoice_id=invoice_id)


@bp.post("/pay-links/<int:link_id>/revoke")
@admin_required()
def pay_link_revoke(link_id: int) -> BaseResponse:
    """Stop a pay-link from working (after ticking the confirmation)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    link = db.session.get(PayLink, link_id, with_for_update=True) or abort(404)
    back = request.form.get("invoice_id", "")
    target = (
        url_for("admin.invoice_detail", invoice_id=int(back)) + "#pay-links"
        if back.isdigit()
        else url_for("admin.payments")
    )
    if request.form.get("confirm") != "1":
        flash(_("Tick the box to confirm that the link should stop working."), "error")
        return redirect(target, 303)
    if paylinks.revoke(db.session(), link, actor()):
        db.session.commit()
        flash(_("Pay-link revoked: it no longer works."), "success")
    else:
        flash(_("This pay-link was revoked already."), "warning")
    return redirect(target, 303)


@bp.post("/invoices/<int:invoice_id>/second-chance")
@admin_required()
def second_chance_send(invoice_id: int) -> BaseResponse:
    """Mail the debtor a fresh pay-link for this invoice now."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invoice = db.session.get(Invoice, invoice_id, with_for_update=True) or abort(404)
    sent = second_chance.send_now(
        db.session(),
        runtime.mails(),
        invoice.debtor,
        [invoice],
        actor(),
        link_days=runtime.settings().pay_link_days,
    )
    if sent:
        db.session.commit()
        flash(
            _("Mail with a fresh pay-link sent to %(email)s.", email=invoice.debtor.primary_email),
            "success",
        )
    else:
        db.session.rollback()  # no mail went out, so no new link either
        flash(
            _("Nothing sent: the invoice is not open, or the debtor has no email address."), "error"
        )
    return _back("admin.invoice_detail", "#pay-links", invoice_id=invoice_id)
