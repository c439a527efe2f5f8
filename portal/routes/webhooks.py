"""Provider webhooks: no session, no CSRF (providers post them), every delivery logged."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from portal import runtime, tasks
from portal.db import db
from portal.domain.payments import webhooks
from portal.domain.payments.providers import registry
from portal.domain.payments.providers.base import ProviderError, WebhookRequest
from portal.extensions import csrf, limiter

bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks/<provider_name>")
@csrf.exempt
@limiter.exempt
def receive(provider_name: str) -> Response:
    """Verify and log one delivery, answer at once; the worker applies it."""
    if provider_name not in registry.names():
        abort(404)
    try:
        provider = runtime.provider(provider_name)
    except (KeyError, ProviderError):  # the sandbox in production, a provider without keys
        return Response("not configured here", 404, mimetype="text/plain")
    delivery = WebhookRequest(
        body=request.get_data(cache=True),
        headers={k.lower(): v for k, v in request.headers.items()},
        form=request.form.to_dict(),
    )
    answer = webhooks.accept(db.session(), provider, delivery, request.remote_addr or "")
    db.session.commit()
    if answer.outcome == webhooks.QUEUED:
        tasks.process_webhook(provider.name, answer.delivery.id)
    return Response(answer.outcome, answer.http_status, mimetype="text/plain")
