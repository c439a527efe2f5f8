"""The sandbox provider's hosted checkout (development and tests; never in production)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from portal import runtime, tasks
from portal.db import db
from portal.domain.payments.providers import sandbox
from portal.domain.payments.providers.base import Method, Status
from portal.htmx import redirect_to

bp = Blueprint("sandbox", __name__)


@bp.before_request
def _never_in_production() -> None:
    if runtime.settings().is_production:
        abort(404)


@bp.get("/sandbox/checkout/<ref>")
def checkout(ref: str) -> str:
    """Shows the amount and method, and lets the person pick the outcome."""
    record = sandbox.find(ref) or abort(404)
    methods = [Method(m) for m in record.methods.split(",") if m]
    return render_template(
        "pay/sandbox.html", record=record, methods=methods, outcomes=sandbox.OUTCOMES
    )


@bp.post("/sandbox/checkout/<ref>")
def decide(ref: str) -> BaseResponse:
    """Apply the chosen outcome, post our webhook like a provider, send the person back."""
    record = sandbox.find(ref) or abort(404)
    outcome_raw = request.form.get("outcome", "")
    method_raw = request.form.get("method", "") or record.method or ""
    if outcome_raw not in {o.value for o in sandbox.OUTCOMES}:
        abort(400)
    method = Method(method_raw) if method_raw in Method.__members__.values() else None
    sandbox.choose(record, Status(outcome_raw), method)
    db.session.commit()
    if record.webhook_url and not current_app.config.get("SANDBOX_WEBHOOKS_OFF"):
        tasks.deliver_sandbox_webhook(record.webhook_url, record.ref)
    return redirect_to(record.return_url)
