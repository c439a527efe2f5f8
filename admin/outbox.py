"""Decisions on outbox messages a worker left in doubt (or that failed): resend, mark as
sent, cancel; one by one from a message's page or in bulk from the list. Full admins."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.session import actor, admin_required
from portal import dispatch
from portal.db import db
from portal.domain import liveness
from portal.domain.messaging import outbox
from portal.domain.params import ids
from portal.forms import ConfirmForm
from portal.models import OutboxMessage, OutboxStatus, utcnow

DONE = {
    "resend": lambda n: ngettext(
        "%(num)d message is queued again.", "%(num)d messages are queued again.", n
    ),
    "mark_sent": lambda n: ngettext(
        "%(num)d message is recorded as sent.", "%(num)d messages are recorded as sent.", n
    ),
    "cancel": lambda n: ngettext(
        "%(num)d message is cancelled.", "%(num)d messages are cancelled.", n
    ),
}


@bp.post("/outbox/decide")
@admin_required(full_admin=True)
def outbox_decide() -> BaseResponse:
    """Apply one decision to the ticked messages, or to every message in doubt."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    action = request.form.get("action", "")
    if action not in outbox.DOUBT_ACTIONS:
        abort(400)
    chosen = ids(request.form.getlist("id"))
    if request.form.get("all") == "doubt":
        chosen = outbox.doubt_ids(db.session())
    back = request.form.get("back", "")
    if not chosen:
        flash(_("Tick the messages first."), "error")
        return _back(back)
    resolved = outbox.resolve(db.session(), chosen, action, actor(), utcnow())
    if resolved.done and action == "resend":
        dispatch.later(db.session(), "send_outbox")  # an old message: no new row to notice
    db.session.commit()
    if back == "message" and not resolved.done:  # one message, decided by someone else
        message = db.session.get(OutboxMessage, chosen[0]) or abort(404)
        abort(
            409,
            _(
                "Someone else just decided this: message #%(id)s is now %(status)s.",
                id=message.id,
                status=status_label(message.status),
            ),
        )
    if resolved.done:
        flash(DONE[action](len(resolved.done)), "success")
    if resolved.skipped:
        flash(
            ngettext(
                "%(num)d message had changed meanwhile and was left as it is.",
                "%(num)d messages had changed meanwhile and were left as they are.",
                len(resolved.skipped),
            ),
            "warning",
        )
    if back == "message":
        return redirect(url_for("admin.outbox_message", message_id=chosen[0]), code=303)
    return _back(back)


def _back(status: str) -> BaseResponse:
    known = status if status in {s.value for s in OutboxStatus} else None
    return redirect(url_for("admin.outbox", status=known), code=303)


@bp.app_template_global("job_error")
def job_error(text: str) -> str:
    """A stored error in words: the ones the system writes itself are translated."""
    known = {
        outbox.DOUBT_NOTE: _(
            "The worker stopped while sending it: nobody knows whether it went out."
        ),
        liveness.STOPPED: _(
            "The worker stopped while this ran (no sign of life for two minutes); nothing of"
            " it was saved."
        ),
    }
    return known.get(text, text)


@bp.app_template_global("outbox_status")
def status_label(status: str) -> str:
    """An outbox status in words."""
    words = {
        "pending": _("waiting"),
        "sending": _("being sent"),
        "sent": _("sent"),
        "local": _("kept here"),
        "failed": _("failed"),
        "dropped": _("dropped"),
        "doubt": _("in doubt"),
        "cancelled": _("cancelled"),
    }
    return words.get(status, status)
