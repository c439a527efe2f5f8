"""One clock and plain words on every admin page.

Times: a stored UTC moment is shown in `PORTAL_TIMEZONE` with the zone named
(`local_time`: "4 Dec 2026, 23:40 CET"), a day of an event is that moment's local day
(`local_date`). Words: who did something (`actor_name`: "boss@example.com", "Petra de
Vries (K-1001)", "the system"), what an audit event was (`action_label`), what kind of
message an outbox row is (`message_kind`), where an import job stands (`job_status`) and
what a request event was (`request_action`), in the admin's language. Templates reach
them as globals; nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import g
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from admin import bp
from portal import i18n, runtime
from portal.db import db
from portal.domain.messaging import templates
from portal.models import AdminUser, AuditEvent, Debtor, Invoice


def _zone() -> ZoneInfo:
    return ZoneInfo(runtime.settings().portal_timezone)


def _local(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=value.tzinfo or dt.UTC).astimezone(_zone())


@bp.app_template_global("local_time")
def local_time(value: dt.datetime | None, seconds: bool = False) -> str:
    """A stored UTC moment as date, time and zone in PORTAL_TIMEZONE ("4 Dec 2026, 23:40
    CET"); a dash when there is none."""
    if value is None:
        return "–"
    local = _local(value)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{i18n.date(local.date())}, {clock} {local.tzname()}"


@bp.app_template_global("time_tag")
def time_tag(value: dt.datetime | None, seconds: bool = False) -> Markup:
    """`local_time` in a <time> element that carries the exact moment."""
    if value is None:
        return Markup("–")
    exact = value.replace(tzinfo=value.tzinfo or dt.UTC).isoformat()
    return Markup('<time datetime="{}">{}</time>').format(exact, local_time(value, seconds))


@bp.app_template_filter("local_date")
def local_date(value: dt.datetime | dt.date | None) -> str:
    """The local day of a stored moment (a date stays itself), as the locale writes it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return i18n.date(_local(value).date())
    return i18n.date(value)


def zone_name() -> str:
    """The business timezone, as configured (for a page that names it once)."""
    return str(runtime.settings().portal_timezone)


# ------------------------------------------------------------------ who
def _cache() -> dict[str, str]:
    if "actor_names" not in g:
        g.actor_names = {}
    names: dict[str, str] = g.actor_names
    return names


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 10 else None


@bp.app_template_global("actor_name")
def actor_name(actor: str | None) -> str:
    """Who an audit or request event names, in words (looked up once per request)."""
    if not actor:
        return _("unknown")
    names = _cache()
    if actor not in names:
        names[actor] = _actor_words(actor)
    return names[actor]


def _actor_words(actor: str) -> str:
    fixed = {
        "system": _("the system"),
        "cli": _("the command line"),
        "seed": _("demo data"),
        "debtor": _("the customer"),
        "admin:?": _("an admin"),
    }
    if actor in fixed:
        return fixed[actor]
    kind, _sep, rest = actor.partition(":")
    number = _number(rest)
    if kind == "admin" and number is not None:
        user = db.session.get(AdminUser, number)
        return user.email if user else _("admin %(id)s (removed)", id=number)
    if kind == "debtor" and number is not None:
        debtor = db.session.get(Debtor, number)
        if debtor is None:
            return _("a removed customer")
        return _("%(name)s (customer %(number)s)", name=debtor.name, number=debtor.number)
    if kind in ("api", "api-key") and number is not None:
        from portal.models import ApiKey

        key = db.session.get(ApiKey, number)
        return _("API key “%(label)s”", label=key.label) if key else _("an API key")
    if kind == "api-ip":
        return _("the API (no valid key)")
    return actor


# ------------------------------------------------------------------ what
def _admin_actions() -> dict[str, str]:
    return {
        "admin.login": _("Signed in to admin"),
        "admin.login_failed": _("Admin sign-in failed"),
        "admin.logout": _("Signed out of admin"),
        "admin.password_reset": _("Password reset"),
        "admin.reset_requested": _("Password reset asked for"),
        "admin.totp_enabled": _("Two-step login turned on"),
        "admin.totp_failed": _("Two-step login code refused"),
        "admin.user_created": _("Admin user created"),
        "admin.user_activated": _("Admin user activated"),
        "admin.user_deactivated": _("Admin user deactivated"),
        "admin.role_changed": _("Admin role changed"),
        "admin.brand_updated": _("Brand settings changed"),
        "admin.segment_saved": _("Segment saved"),
        "admin.plan_policy_saved": _("Plan policy saved"),
        "admin.schedule_created": _("Reminder schedule created"),
        "admin.schedule_saved": _("Reminder schedule saved"),
        "admin.template_saved": _("Message text saved"),
        "admin.interest_rate_added": _("Interest rate added"),
        "admin.import_committed": _("Import added to the portal"),
        "admin.import_job_started": _("Import started"),
        "admin.import_job_restarted": _("Import started again"),
        "admin.import_profile_saved": _("Import column mapping saved"),
        "admin.morning_run_started": _("Reminder run started by hand"),
        "admin.payment_rechecked": _("Payment checked with the provider"),
        "api_key.created": _("API key created"),
        "api_key.revoked": _("API key revoked"),
        "api_key.link_existing": _("API key may add invoices for existing customers"),
        "brand.frame_origins": _("Sites that may embed the pay page changed"),
        "webhook.saved": _("Webhook saved"),
        "webhook.secret_rotated": _("Webhook secret replaced"),
        "webhook.resent": _("Webhook sent again"),
        "insight.rule_created": _("Rating rule created"),
        "insight.rule_applied": _("Rating rule applied"),
        "insight.rule_removed": _("Rating rule removed"),
        "debtor.segment_moved": _("Customer moved to another segment"),
        "debtor.created": _("Customer added"),
        "invoice.created": _("Invoice added"),
        "invoice.notified": _("Customer told of new invoices"),
        "plan.breached": _("Payment plan ended: an instalment was missed"),
        "plan.completed": _("Payment plan paid in full"),
        "request.contact_changed": _("Contact details changed on request"),
        "request.email_changed": _("Email address changed on request"),
        "admin.bulk": _("Bulk change on a list"),
        "admin.exported": _("List exported"),
        "admin.filter_saved": _("Filter saved"),
        "admin.filter_removed": _("Filter removed"),
        "outbox.resend": _("Message queued again"),
        "outbox.mark_sent": _("Message recorded as sent"),
        "outbox.cancel": _("Message cancelled"),
    }


@bp.app_template_global("action_label")
def action_label(event: AuditEvent) -> str:
    """What an audit event records, in words (the action's code when no words exist)."""
    words = _admin_actions().get(event.action)
    if words:
        return words
    label = i18n.event_label(event)
    return label if label != _("Other event") else event.action


def _message_kinds() -> dict[str, str]:
    return {
        "admin_reset": _("Admin password reset"),
        "insight_weekly": _("Weekly summary of the figures"),
        "template_test": _("Test of a message text"),
        "letter": _("Letter"),
    }


@bp.app_template_global("message_kind")
def message_kind(kind: str) -> str:
    """What an outbox message is, named as the message texts are."""
    spec = templates.SPECS.get(kind)
    if spec is not None:
        return _(spec.title)
    return _message_kinds().get(kind, kind.replace("_", " "))


@bp.app_template_global("step_channel")
def step_channel(channel: str | None) -> str:
    """A reminder channel in words ("by email")."""
    return {
        "email": _("by email"),
        "sms": _("by text message"),
        "letter": _("by post"),
    }.get(channel or "", channel or "")


@bp.app_template_global("job_status")
def job_status(status: str) -> str:
    """Where an import job stands, in words."""
    return {
        "queued": _("waiting for the worker"),
        "running": _("running"),
        "done": _("done"),
        "failed": _("failed"),
    }.get(status, status)


@bp.app_template_global("request_action")
def request_action(action: str) -> str:
    """A step in a request's trail, in words."""
    return {
        "created": _("sent the request"),
        "assigned": _("assigned it"),
        "reply": _("replied"),
        "state": _("changed its state"),
    }.get(action, action)


def invoice_numbers(invoice_ids: set[int]) -> dict[int, str]:
    """Invoice numbers by id, in one query (timelines name invoices by number)."""
    if not invoice_ids:
        return {}
    rows = db.session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(invoice_ids)))
    return {row.id: row.number for row in rows}


@bp.app_template_global("report_kind")
def report_kind(kind: str) -> str:
    """A line of an agency's report, in words."""
    return {
        "collected": _("Collected"),
        "costs": _("Agency costs"),
        "write_off": _("Written off"),
        "returned": _("Returned to us"),
    }.get(kind, kind)
