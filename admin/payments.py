"""Admin pages for payments: list, detail with the webhook log, re-check, export;
pay-links and second chances from the invoice page."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.session import actor, admin_required
from portal import paying, tasks
from portal.db import db
from portal.domain import audit
from portal.domain.payments import listing, paylinks, second_chance, service
from portal.domain.payments.providers.base import Method, ProviderError, Status
from portal.domain.payments.providers.registry import names
from portal.forms import ConfirmForm
from portal.htmx import render_page
from portal.mails import pay_link_url
from portal.models import Brand, Invoice, PayLink, Payment


@bp.get("/payments")
@admin_required()
def payments() -> Any:
    flt = listing.PaymentFilter.parse(request.args.to_dict())
    rows, has_next = listing.admin_list(db.session(), flt)
    return render_page(
        "admin/payments.html",
        "admin/_payment_rows.html",
        rows=rows,
        has_next=has_next,
        flt=flt,
        statuses=[s.value for s in Status],
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
    payment = db.session.get(Payment, payment_id) or abort(404)
    return render_template(
        "admin/payment.html",
        payment=payment,
        deliveries=listing.deliveries(db.session(), payment.id),
        final=Status(payment.status) in service.FINAL | service.REVERSED,
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
            db.session(), paying.provider(payment.provider), payment.id, paying.mails()
        )
    except ProviderError as exc:
        db.session.rollback()
        flash(_("The provider could not be asked: %(error)s", error=str(exc)), "error")
        return redirect(url_for("admin.payment_detail", payment_id=payment_id), code=303)
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
    if outcome.changed:
        tasks.send_outbox()
        flash(_("Status changed: %(old)s → %(new)s", old=outcome.old, new=outcome.new), "success")
    else:
        flash(_("Status unchanged: %(status)s", status=outcome.new), "success")
    return redirect(url_for("admin.payment_detail", payment_id=payment_id), code=303)


# ------------------------------------------------------------------ pay-links
def link_views(invoice: Invoice) -> list[dict[str, Any]]:
    """Each pay-link of an invoice with its state and URL, for the invoice page."""
    settings = paying.settings()
    views = []
    for link in paylinks.for_invoice(db.session(), invoice.id):
        token = paylinks.token(link, settings.secret_key)
        state = paylinks.resolve(db.session(), token, settings.secret_key).state
        views.append({"link": link, "state": state.value, "url": pay_link_url(link, settings)})
    return views


@bp.post("/invoices/<int:invoice_id>/pay-links")
@admin_required()
def pay_link_create(invoice_id: int) -> BaseResponse:
    """A new pay-link for one open invoice."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    raw_days = request.form.get("days", "")
    days = int(raw_days) if raw_days.isdigit() else paying.settings().pay_link_days
    if not 1 <= days <= 365 or not second_chance.still_open([invoice]):
        flash(_("A pay-link needs an open invoice and 1 to 365 days."), "error")
    else:
        paylinks.create(db.session(), invoice.debtor, [invoice], actor=actor(), days=days)
        db.session.commit()
        flash(_("Pay-link created."), "success")
    return redirect(url_for("admin.invoice_detail", invoice_id=invoice_id) + "#pay-links", 303)


@bp.post("/pay-links/<int:link_id>/revoke")
@admin_required()
def pay_link_revoke(link_id: int) -> BaseResponse:
    """Stop a pay-link from working (after ticking the confirmation)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    link = db.session.get(PayLink, link_id) or abort(404)
    back = request.form.get("invoice_id", "")
    target = (
        url_for("admin.invoice_detail", invoice_id=int(back)) + "#pay-links"
        if back.isdigit()
        else url_for("admin.payments")
    )
    if request.form.get("confirm") != "1":
        flash(_("Tick the box to confirm that the link should stop working."), "error")
        return redirect(target, 303)
    paylinks.revoke(db.session(), link, actor())
    db.session.commit()
    flash(_("Pay-link revoked: it no longer works."), "success")
    return redirect(target, 303)


@bp.post("/invoices/<int:invoice_id>/second-chance")
@admin_required()
def second_chance_send(invoice_id: int) -> BaseResponse:
    """Mail the debtor a fresh pay-link for this invoice now."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invoice = db.session.get(Invoice, invoice_id) or abort(404)
    sent = second_chance.send_now(
        db.session(),
        paying.mails(),
        invoice.debtor,
        [invoice],
        actor(),
        link_days=paying.settings().pay_link_days,
    )
    db.session.commit()
    if sent:
        tasks.send_outbox()
        flash(
            _("Mail with a fresh pay-link sent to %(email)s.", email=invoice.debtor.primary_email),
            "success",
        )
    else:
        flash(
            _("Nothing sent: the invoice is not open, or the debtor has no email address."), "error"
        )
    return redirect(url_for("admin.invoice_detail", invoice_id=invoice_id) + "#pay-links", 303)


def invoice_payments(invoice_id: int) -> list[Payment]:
    """Payments that include an invoice, newest first (invoice page)."""
    return list(
        db.session.scalars(
            select(Payment)
            .join(Payment.invoices)
            .where(Invoice.id == invoice_id)
            .order_by(Payment.created_at.desc())
        )
    )
