"""Paying: choose invoices and a method, go to the provider, come back to a receipt.

Nothing the browser sends sets an amount: invoice ids are checked against the debtor's
payable invoices and the total is computed from the database; a part payment is a wish
that the segment's rules judge.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from portal import CSP, runtime
from portal.db import db
from portal.debtor_session import current_debtor, debtor_required, signed_in_debtor
from portal.domain import embed
from portal.domain import invoices as inv
from portal.domain.money import parse_amount
from portal.domain.params import ids, whole
from portal.domain.payments import paylinks, references, service
from portal.domain.payments import selection as choosing
from portal.domain.payments.providers.base import Method, ProviderError, Status, origin
from portal.htmx import is_htmx, redirect_to, render_page
from portal.models import ApiPayLink, Debtor, Instalment, Invoice, PayLink, Payment

bp = Blueprint("pay", __name__)


def refusal_text(reason: str) -> str:
    """A refusal code in words the debtor understands."""
    texts = {
        "nothing_selected": _("Select at least one invoice to pay."),
        "too_many": _("Select at most 200 invoices at a time."),
        "not_payable": _(
            "One of the invoices can no longer be paid here (it may be paid already). "
            "Please choose again."
        ),
        "mixed_currency": _("Invoices in different currencies are paid separately."),
        "partial_not_allowed": _("Only the full amount can be paid online."),
        "amount_too_high": _("The amount is more than what is open."),
        "amount_too_low": _("The amount is below the minimum for a part payment."),
        "amount_invalid": _("Enter an amount such as 25,00."),
        "no_method": _("No online payment method is available for this currency."),
        "method_not_offered": _("Choose one of the payment methods shown."),
        "instalment_not_payable": _(
            "This instalment cannot be paid now: it may be paid already, an earlier one may"
            " come first, or the payment plan has ended."
        ),
    }
    return texts.get(reason, _("This payment cannot be started."))


def _invoice_ids() -> list[int]:
    return ids(request.values.getlist("invoice"))


def _instalment_id() -> int | None:
    raw = request.values.get("instalment", "")
    return whole(raw)


def _select(debtor: Debtor) -> choosing.Selection:
    """What the debtor asked to pay: chosen invoices, or the next instalment of a plan."""
    instalment_id = _instalment_id()
    if instalment_id is not None:
        return choosing.select_instalment(db.session(), debtor, instalment_id)
    return choosing.select_invoices(db.session(), debtor, _invoice_ids())


def _pay_context(selection: choosing.Selection, pay_link: PayLink | None) -> dict[str, Any]:
    """What a pay form shows: the selection, the methods and the bank transfer's reference
    (made once per request and kept, so an import can find the transfer)."""
    provider = runtime.provider_for_link(selection.debtor.brand, pay_link)
    reference = ""
    if selection.debtor.brand.iban and selection.invoices:
        reference = references.pretty(
            references.for_invoices(db.session(), selection.debtor, selection.invoices)
        )
    return {
        "selection": selection,
        "transfer_reference": reference,
        "methods": service.offered_methods(provider, selection.debtor, selection.currency),
    }


def _pay_page(
    template: str,
    selection: choosing.Selection,
    pay_link: PayLink | None = None,
    frame_origins: Sequence[str] = (),
    **extra: object,
) -> Response:
    """A page whose form starts a payment with the provider `_start` will choose."""
    page = render_template(
        template,
        **_pay_context(selection, pay_link),
        page_brand=selection.debtor.brand,
        pay_link=pay_link,
        **extra,
    )
    db.session.commit()  # the transfer reference shown is kept, so an import can find it
    response = make_response(page)
    if frame_origins:
        response.headers["Content-Security-Policy"] = embed.frame_csp(CSP, list(frame_origins))
    return response


@bp.get("/pay")
@debtor_required
def choose() -> BaseResponse:
    """The chosen invoices, their total and the methods; the debtor confirms here.

    `all=overdue` or `all=open` picks every invoice of that kind in one click;
    `selected=1` pays the ticks remembered across pages and filters.
    """
    debtor = signed_in_debtor()
    scope = request.args.get("all", "")
    action = request.args.get("action", "")  # the bar's buttons, sent without script
    if action == "none":
        _remember(debtor, [])
        return redirect(url_for("portal.invoice_list"), code=303)
    try:
        if action == "all":
            flt = inv.InvoiceFilter.parse(request.args.to_dict())
            wanted = inv.payable_ids(db.session(), debtor.id, flt)
            selection = choosing.select_invoices(db.session(), debtor, wanted)
        elif scope:
            selection = choosing.select_all(db.session(), debtor, scope, runtime.business_today())
        elif request.args.get("selected"):
            selection = choosing.select_invoices(db.session(), debtor, _merge_ticks(debtor))
        else:
            selection = _select(debtor)
    except service.PaymentRefused as exc:
        flash(refusal_text(exc.reason), "error")
        return Response(render_template("pay/refused.html"), 422)
    return _pay_page("pay/choose.html", selection)


# ------------------------------------------------------------------ ticks across pages
def _selection_key(debtor: Debtor) -> str:
    return f"pay_selection:{debtor.id}"


def _remembered(debtor: Debtor) -> list[int]:
    return ids([str(i) for i in session.get(_selection_key(debtor), [])])


def _remember(debtor: Debtor, invoice_ids: Sequence[int]) -> None:
    session[_selection_key(debtor)] = list(invoice_ids)[:200]
    g.pop("pay_selection", None)


def _merge_ticks(debtor: Debtor) -> list[int]:
    """The remembered ticks, updated by this form: the boxes it showed replace what was
    remembered for them, ticks on other pages stay. Stale ones (paid since) drop out."""
    shown = set(ids(request.values.getlist("shown")))
    ticked = ids(request.values.getlist("invoice"))
    merged = [i for i in _remembered(debtor) if i not in shown] + ticked
    kept = choosing.payable_among(db.session(), debtor, merged)
    _remember(debtor, kept)
    return kept


@dataclass(frozen=True)
class Ticks:
    """The signed-in debtor's remembered ticks, as ids and as invoices with their total."""

    ids: frozenset[int]
    invoices: Sequence[Invoice]


@bp.app_template_global()
def pay_selection() -> Ticks:
    """The ticks a debtor made on any page of the list (kept in the session)."""
    if "pay_selection" not in g:
        debtor = signed_in_debtor()
        chosen: Sequence[Invoice] = []
        remembered = choosing.payable_among(db.session(), debtor, _remembered(debtor))
        if remembered:
            chosen = db.session.scalars(
                select(Invoice).where(Invoice.id.in_(remembered)).order_by(Invoice.due_date)
            ).all()
        g.pay_selection = Ticks(frozenset(remembered), chosen)
    ticks: Ticks = g.pay_selection
    return ticks


@bp.post("/pay/selection")
@debtor_required
def change_selection() -> Response:
    """A box ticked or cleared, or "select all" / "clear": the pay bar again (HTMX), or
    the whole table after select all / clear so every box shows its state."""
    debtor = signed_in_debtor()
    action = request.form.get("action", "")
    flt = inv.InvoiceFilter.parse(request.form.to_dict())
    if action == "all":
        _remember(debtor, inv.payable_ids(db.session(), debtor.id, flt))
    elif action == "none":
        _remember(debtor, [])
    else:
        _merge_ticks(debtor)
    page = inv.list_invoices(db.session(), debtor.id, flt)
    template = "invoices/_pay_form.html" if action else "pay/_bar.html"
    return render_page(template, template, flt=flt, page=page, today=runtime.business_today())


SUBMIT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,43}$")


@bp.app_template_global()
def new_submit_token() -> str:
    """A fresh token for one rendering of a pay form (see service.submitted_before)."""
    return secrets.token_urlsafe(24)


def _submit_token() -> str | None:
    raw = request.form.get("submit_token", "")
    return raw if SUBMIT_TOKEN.match(raw) else None


def _wish() -> service.StartRequest:
    method_raw = request.form.get("method", "")
    method = Method(method_raw) if method_raw in Method.__members__.values() else None
    amount_raw = request.form.get("amount", "").strip()
    amount = None
    if amount_raw:
        try:
            amount = parse_amount(amount_raw)
        except ValueError:
            raise service.PaymentRefused("amount_invalid") from None
    return service.StartRequest(
        _invoice_ids(),
        method,
        amount,
        instalment_id=_instalment_id(),
        submit_token=_submit_token(),
    )


def _start(debtor: Debtor, wish: service.StartRequest, retry_url: str) -> BaseResponse:
    provider = runtime.provider_for_link(debtor.brand, wish.pay_link)
    try:
        payment = service.start(
            db.session(),
            provider,
            debtor,
            wish,
            return_url=runtime.return_url,
            webhook_url=runtime.webhook_url(provider.name),
            description=_instalment_description(wish) if wish.instalment_id else _description,
        )
    except service.PaymentRefused as exc:
        db.session.rollback()
        flash(refusal_text(exc.reason), "error")
        return redirect_to(retry_url)
    except ProviderError:
        db.session.rollback()
        flash(_("The payment service cannot be reached right now. Please try again."), "error")
        return redirect_to(retry_url)
    db.session.commit()
    if Status(payment.status) not in (Status.CREATED, Status.OPEN) or not payment.checkout_url:
        # the same form sent again once the checkout was done: show where it stands
        return redirect_to(url_for("pay.returned", public_id=payment.public_id))
    if is_htmx():  # htmx moves the window by script: no form navigation, nothing to block
        return redirect_to(payment.checkout_url)
    return redirect(url_for("pay.go", public_id=payment.public_id), code=303)


PROVIDER_NAMES = {"mollie": "Mollie", "stripe": "Stripe", "sandbox": "Sandbox"}


@bp.get("/pay/go/<public_id>")
def go(public_id: str) -> BaseResponse | str:
    """The step between the pay form and the provider's checkout, on our own origin.

    Browsers apply the pay page's CSP `form-action` to every redirect that follows its
    form, also the ones the checkout answers with on its way (Mollie sends PayPal and bank
    payments on to their own sites), which no list of ours can know. The form's redirects
    stay on our origin and end here; this page moves on to the checkout by itself (a meta
    refresh, not a form), with a link for when it does not.
    """
    payment = _payment(public_id)
    if payment.checkout_url is None or payment.status not in ("created", "open"):
        return redirect(url_for("pay.returned", public_id=public_id), code=303)
    provider = runtime.provider(payment.provider)
    if origin(payment.checkout_url) not in provider.checkout_origins:
        # a changed provider domain, or an answer not to be trusted: worth a look
        current_app.logger.error(
            "%s checkout %s is outside its checkout origins %s",
            provider.name,
            origin(payment.checkout_url),
            provider.checkout_origins,
        )
    return render_template(
        "pay/go.html",
        checkout_url=payment.checkout_url,
        provider_name=PROVIDER_NAMES.get(payment.provider, payment.provider),
        page_brand=payment.brand,
    )


def _description(invoices: Sequence[Invoice]) -> str:
    numbers = ", ".join(i.number for i in invoices[:5])
    more = len(invoices) - 5
    label = ngettext("Invoice %(numbers)s", "Invoices %(numbers)s", len(invoices), numbers=numbers)
    return label + (f" (+{more})" if more > 0 else "")


def _instalment_description(wish: service.StartRequest) -> Callable[[Sequence[Invoice]], str]:
    def describe(invoices: Sequence[Invoice]) -> str:
        instalment = db.session.get(Instalment, wish.instalment_id)
        assert instalment is not None  # checked by choosing.select_instalment
        label = _(
            "Instalment %(seq)d of %(count)d",
            seq=instalment.seq,
            count=len(instalment.plan.instalments),
        )
        return f"{label}: {_description(invoices)}"

    return describe


@bp.post("/pay")
@debtor_required
def start() -> BaseResponse:
    """Create the provider payment now (iDEAL sessions expire in minutes) and go there."""
    debtor = signed_in_debtor()
    instalment_id = _instalment_id()
    retry = (
        url_for("pay.choose", instalment=instalment_id)
        if instalment_id is not None
        else url_for("pay.choose", invoice=_invoice_ids())
    )
    try:
        wish = _wish()
    except service.PaymentRefused as exc:
        flash(refusal_text(exc.reason), "error")
        return redirect_to(retry)
    return _start(debtor, wish, retry)


# ------------------------------------------------------------------ coming back
def _payment(public_id: str) -> Payment:
    payment = db.session.scalar(select(Payment).where(Payment.public_id == public_id))
    return payment or abort(404)


RECHECK_SECONDS = 3


def _refresh(payment: Payment) -> Payment:
    """Ask the provider when the payment is not final and was not checked just now."""
    status = Status(payment.status)
    if status in service.FINAL or status in service.REVERSED:
        return payment
    if payment.checked_at is not None:
        age = (service.utcnow() - payment.checked_at).total_seconds()
        if age < RECHECK_SECONDS:
            return payment
    try:
        service.sync(db.session(), runtime.provider(payment.provider), payment.id, runtime.mails())
    except ProviderError:
        db.session.rollback()
        return _payment(payment.public_id)
    db.session.commit()  # a receipt, the shop's event: dispatch.py wakes the worker
    return _payment(payment.public_id)


def _retry_url(payment: Payment) -> str:
    if payment.pay_link_id is not None:
        link = db.session.get(PayLink, payment.pay_link_id)
        if link is not None:
            return url_for("pay.link", token=paylinks.token(link, runtime.settings().secret_key))
    if payment.instalment_id is not None:
        return url_for("pay.choose", instalment=payment.instalment_id)
    return url_for("pay.choose", invoice=[i.id for i in payment.invoices])


@bp.get("/pay/return/<public_id>")
def returned(public_id: str) -> Response:
    """The page the provider sends the debtor back to: processing, receipt or failure."""
    payment = _refresh(_payment(public_id))
    again = _pay_again(payment)
    page = render_page(
        "pay/return.html",
        "pay/_status.html",
        payment=payment,
        page_brand=payment.brand,
        retry_url=_retry_url(payment),
        shop_url=_shop_url(payment),
        **again,
    )
    if again:
        db.session.commit()  # the transfer reference shown is kept
    return page


def _pay_again(payment: Payment) -> dict[str, Any]:
    """After a failure, the signed-in debtor chooses another method or the bank transfer
    on the same page: the pay form again, for what is still open of the same invoices."""
    if Status(payment.status) not in (Status.FAILED, Status.CANCELED, Status.EXPIRED):
        return {}
    debtor = current_debtor()
    if debtor is None or debtor.id != payment.debtor_id or payment.pay_link_id is not None:
        return {}
    try:
        if payment.instalment_id is not None:
            selection = choosing.select_instalment(db.session(), debtor, payment.instalment_id)
        else:
            still_open = choosing.payable_among(
                db.session(), debtor, [i.id for i in payment.invoices]
            )
            selection = choosing.select_invoices(db.session(), debtor, still_open)
    except service.PaymentRefused:
        return {}
    return _pay_context(selection, None)


def _shop_url(payment: Payment) -> str:
    """The shop's return URL when the payment came from a pay-link made over the API."""
    if payment.pay_link_id is None:
        return ""
    record = db.session.get(ApiPayLink, payment.pay_link_id)
    return record.return_url if record is not None else ""


# ------------------------------------------------------------------ pay-links
@bp.route("/p/<token>", methods=["GET", "POST"])
def link(token: str) -> BaseResponse | tuple[str, int]:
    """A pay-link: the invoices and amount, nothing else personal; POST starts paying."""
    resolved = paylinks.resolve(db.session(), token, runtime.settings().secret_key)
    if resolved.state == paylinks.LinkState.INVALID or resolved.link is None:
        return render_template("pay/link_problem.html", state=resolved.state), 404
    pay_link = resolved.link
    if resolved.state != paylinks.LinkState.USABLE:
        receipt = paylinks.last_paid_payment(db.session(), pay_link)
        return render_template(
            "pay/link_problem.html",
            state=resolved.state,
            pay_link=pay_link,
            receipt=receipt,
            page_brand=pay_link.brand,
        ), 410 if resolved.state != paylinks.LinkState.PAID else 200
    invoices = resolved.open_invoices
    try:  # the costs and interest booked since the link was made come along (art. 6:44 BW)
        selection = choosing.with_charges(db.session(), pay_link.debtor, invoices)
    except service.PaymentRefused as exc:
        flash(refusal_text(exc.reason), "error")
        return render_template("pay/refused.html", page_brand=pay_link.brand), 410
    if pay_link.instalment_id is not None:
        try:
            selection = choosing.select_instalment(
                db.session(), pay_link.debtor, pay_link.instalment_id
            )
        except service.PaymentRefused as exc:
            flash(refusal_text(exc.reason), "error")
            return render_template("pay/refused.html", page_brand=pay_link.brand), 410
    if request.method == "POST":
        try:
            wish = _wish()
        except service.PaymentRefused as exc:
            flash(refusal_text(exc.reason), "error")
            return redirect_to(url_for("pay.link", token=token))
        wish = service.StartRequest(
            [i.id for i in invoices],
            wish.method,
            wish.amount_cents,
            pay_link,
            pay_link.instalment_id,
            wish.submit_token,
        )
        return _start(pay_link.debtor, wish, url_for("pay.link", token=token))
    pay_link.last_opened_at = service.utcnow()
    origins = embed.origins_of(db.session(), pay_link.brand_id)
    # in a frame (only the brand's listed sites may frame it), the page offers a link that
    # opens it in the top window: the checkout never runs inside a frame
    framed = request.headers.get("Sec-Fetch-Dest") == "iframe"
    return _pay_page("pay/link.html", selection, pay_link, origins, token=token, framed=framed)
