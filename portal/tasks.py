"""Background work (Huey): sending the outbox now and on a schedule."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import crontab

from portal import dispatch, extensions, queue
from portal.config import Settings
from portal.db import db
from portal.domain import liveness
from portal.domain.messaging import outbox, sms
from portal.domain.messaging.email import transport_for
from portal.models import utcnow

log = logging.getLogger(__name__)
# periodic tasks run once per deployment (queue.py), however many workers run
huey = extensions.huey
_app: Flask | None = None


def bind_app(app: Flask, settings: Settings) -> None:
    """Give tasks the app they run in and the queue its backend; immediate mode runs
    them inline (tests)."""
    global _app
    _app = app
    huey.configure(settings, immediate=settings.huey_immediate)


@contextmanager
def _app_context() -> Iterator[None]:
    """The app a task runs in, as a worker step: what its commits add for the worker
    (mail, webhooks, agency deliveries) is enqueued after each commit (dispatch.py)."""
    with dispatch.step():
        if has_app_context():
            yield
            return
        if _app is None:
            raise RuntimeError("tasks.bind_app() was not called")
        with _app.app_context():
            yield


def send_outbox_now() -> outbox.SendResult:
    """Send every due message, mail then SMS (used by the task, the CLI and tests): each
    round drains what is due, mail up to OUTBOX_PER_MINUTE in a minute."""
    from portal.mails import SendTimeRenderer

    with _app_context():
        settings = current_app.config["SETTINGS"]
        mail = outbox.send_pending(
            db.session,
            transport_for(settings.smtp_url),
            per_minute=settings.outbox_per_minute,
            retry_hours=settings.outbox_retry_hours,
            render=SendTimeRenderer(settings),
        )
        texts = sms.send_pending(
            db.session,
            sms.provider_for(settings),
            default_sender=settings.sms_from,
            retry_hours=settings.outbox_retry_hours,
            render=SendTimeRenderer(settings),
        )
        return mail.add(texts)


@huey.task()
def send_outbox() -> None:
    """Send what is waiting in the outbox (enqueued after a commit that added mail)."""
    send_outbox_now()


@huey.periodic_task(crontab(minute="*"))
def send_outbox_periodically() -> None:
    """Catch messages whose retry time has come, and any enqueue that was lost."""
    send_outbox_now()


def send_login_link_now(email: str, ip: str) -> bool:
    """Make a sign-in link for `email` when it belongs to a debtor, and mail it; False for
    an unknown address (used by the task and tests)."""
    from portal.domain import login
    from portal.mails import queue_login_mail

    with _app_context():
        settings = current_app.config["SETTINGS"]
        asked = login.request_link(db.session(), email, ip=ip)
        if asked is None:
            return False
        queue_login_mail(db.session(), asked, settings)
        db.session.commit()
        return True


def send_admin_reset_now(email: str) -> bool:
    """Make a password-reset link for `email` when it belongs to an admin, and mail it;
    False for an unknown address (used by the task and tests)."""
    from portal.domain import admins
    from portal.mails import queue_admin_reset_mail

    with _app_context():
        requested = admins.request_reset(db.session(), email)
        if requested is None:
            return False
        user, token = requested
        queue_admin_reset_mail(db.session(), user, token, current_app.config["SETTINGS"])
        db.session.commit()
        return True


@huey.task()
def send_admin_reset(email: str) -> None:
    """The work behind the admin's "forgot password" form, off the request (see
    `send_login_link`)."""
    send_admin_reset_now(email)


@huey.task()
def send_login_link(email: str, ip: str) -> None:
    """The work behind the login form, off the request: whether the address is known shows
    neither in the answer nor in how long it takes (the page queues this task either way)."""
    send_login_link_now(email, ip)


@huey.task()
def run_import_job(job_id: int) -> None:
    """Commit a large import in the background (admin/imports starts it), with a heartbeat
    while it runs."""
    from pathlib import Path

    from portal.domain.imports import jobs

    with _app_context():
        folder = Path(current_app.instance_path) / "uploads"
        with _pulse(liveness.pulse_import, job_id):
            batch_id = jobs.run(db, jobs.Uploads(folder), job_id)
    if batch_id is not None:
        notify_new_invoices(batch_id)


WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


@huey.periodic_task(crontab(minute="*"))
def heartbeat() -> None:
    """The worker and its schedule are alive (for /readyz and the dashboard); jobs whose
    worker died are marked failed. Each worker runs its own (queue.EVERY_WORKER)."""
    heartbeat_now()


def heartbeat_now() -> None:
    """Write this worker's heartbeat and reap jobs without one (also as the worker starts,
    so /readyz turns green without waiting for the first minute)."""
    with _app_context(), db.unit_of_work() as session:
        liveness.beat(session, WORKER_NAME, utcnow())
        liveness.reap(session, utcnow())


def queue_ready() -> str:
    """For /readyz: "ok" when the task queue's backend answers, else what went wrong."""
    try:
        huey.storage.queue_size()
    except Exception as exc:  # Redis down, the SQLite queue file unreadable
        return f"unreachable: {exc.__class__.__name__}"
    return "ok"


@huey.task(retries=5, retry_delay=10)
def deliver_sandbox_webhook(url: str, ref: str) -> None:
    """Post `id=<ref>` to our own webhook, as Mollie would (the sandbox's delivery)."""
    import urllib.request
    from urllib.parse import urlencode

    data = urlencode({"id": ref}).encode()
    req = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 (our own URL)
    with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
        response.read()


@huey.task(retries=8, retry_delay=30)
def process_webhook(provider_name: str, delivery_id: int) -> None:
    """Apply a verified webhook delivery; retried while the provider cannot be reached."""
    from portal import runtime
    from portal.domain.payments import webhooks

    with _app_context(), db.unit_of_work() as session:
        # the receipt, the shop's event and an agency's delivery follow the commit
        webhooks.process(session, runtime.provider(provider_name), delivery_id, runtime.mails())


@huey.periodic_task(crontab(minute="*"))
def send_second_chances() -> None:
    """Second-chance mails whose time has come (SECOND_CHANCE_MINUTES after a failure)."""
    from portal import runtime
    from portal.domain.payments import second_chance

    with _app_context():
        settings = runtime.settings()
        second_chance.send_due(
            db.session(),
            runtime.mails(),
            delay=dt.timedelta(minutes=settings.second_chance_minutes),
            link_days=settings.pay_link_days,
        )
        db.session.commit()


@huey.periodic_task(crontab(minute="*/5"))
def recheck_payments() -> None:
    """Ask providers about payments still open: webhooks can be lost or left out."""
    from portal import runtime
    from portal.domain.payments import service

    with _app_context():
        # one commit per payment: its receipt and the shop's event follow it (dispatch.py)
        service.recheck_open(db.session(), runtime.provider, runtime.mails())


def run_dunning_now(day: dt.date | None = None, *, dry_run: bool = False) -> Any:
    """The dunning run for `day` (default: today in the business timezone), then send.

    A real run is recorded as a `JobRun` ("dunning") with a heartbeat while it works, so
    the dashboard can tell a morning without a run, and a run whose worker died is marked
    failed (running it again sends only what is still due)."""
    from portal import runtime
    from portal.domain.clock import today
    from portal.domain.dunning import engine
    from portal.mails import ReminderMails

    with _app_context():
        settings = runtime.settings()
        when = day or today(settings.portal_timezone)
        tz = settings.portal_timezone
        if dry_run:
            return engine.run(
                db.session(), when, ReminderMails(settings), dry_run=True, timezone=tz
            )
        run_id = liveness.start_run(db.session(), "dunning", when, utcnow()).id
        db.session.commit()
        try:
            with _pulse(liveness.pulse_run, run_id):
                result = engine.run(db.session(), when, ReminderMails(settings), timezone=tz)
                db.session.commit()
        except BaseException as exc:
            _run_failed(run_id, exc)
            raise
        summary = {"messages": result.messages, "invoices": result.invoices}
        liveness.finish_run(db.session(), run_id, utcnow(), summary)
        db.session.commit()
        return result


def _pulse(write: Any, job_id: int) -> AbstractContextManager[object]:
    """A job's heartbeat while it runs: `write` in its own session, from its own thread
    (not when tasks run inline, as in tests: there is no worker to lose)."""
    if huey.immediate:
        return nullcontext()
    app = _app

    def pulse() -> None:
        assert app is not None
        with app.app_context(), db.unit_of_work() as session:
            write(session, job_id, utcnow())

    return liveness.Pulse(pulse)


def _run_failed(run_id: int, exc: BaseException) -> None:
    """Record why a job run stopped (if the database lets us; else the reaper will)."""
    try:
        db.session.rollback()
        liveness.fail_run(db.session(), run_id, utcnow(), repr(exc))
        db.session.commit()
    except Exception:
        log.exception("could not record the failure of job run %s", run_id)


def run_plans_now(day: dt.date | None = None) -> Any:
    """The day's check of payment plans: instalments paid, reminded, or breached."""
    from portal import runtime
    from portal.domain.clock import today
    from portal.domain.plans import progress
    from portal.mails import InstalmentMails

    with _app_context():
        settings = runtime.settings()
        when = day or today(settings.portal_timezone)
        result = progress.daily(db.session(), when, InstalmentMails(settings))
        db.session.commit()
        return result


def count_tomorrow_now() -> Any:
    """Count tomorrow's dunning run for the dashboard and keep the figures."""
    from portal import runtime
    from portal.domain.clock import today
    from portal.domain.dunning import engine

    with _app_context():
        tomorrow = today(runtime.settings().portal_timezone) + dt.timedelta(days=1)
        counted = engine.count_and_store(db.session(), tomorrow, utcnow())
        db.session.commit()
        return counted


@huey.task()
def count_tomorrow() -> None:
    """Count tomorrow's run in the worker (asked for by a dashboard showing old figures)."""
    count_tomorrow_now()


@huey.periodic_task(crontab(minute="*/10"))
def count_tomorrow_periodically() -> None:
    """Keep the dashboard's figures for tomorrow at most ten minutes old."""
    count_tomorrow_now()


@huey.periodic_task(queue.at_morning_run(huey))
def dunning_daily() -> None:
    """Every morning: payment plans first (a breach returns invoices to the schedule), then
    the reminders that are due today."""
    run_plans_now()
    run_dunning_now()
    scan_worklist_now()  # a breach or a broken promise of this morning makes its task now
    count_tomorrow_now()


def scan_worklist_now(day: dt.date | None = None) -> Any:
    """Turn new events (broken promises, breached plans, undelivered 14-day letters,
    bounced addresses, disputes waiting) into the team's tasks, once each."""
    from portal import runtime
    from portal.domain.clock import today
    from portal.domain.worklist import events

    with _app_context():
        when = day or today(runtime.settings().portal_timezone)
        result = events.scan(db.session(), when, commit=db.session.commit)
        db.session.commit()
        return result


@huey.periodic_task(crontab(minute="*/10"))
def scan_worklist_periodically() -> None:
    """The work queue's scan every ten minutes (the events' keys make it idempotent)."""
    scan_worklist_now()


@huey.task(retries=3, retry_delay=60)
def notify_new_invoices(batch_id: int) -> None:
    """Mail debtors about the new invoices of a committed import batch."""
    from portal import runtime
    from portal.domain.dunning import new_invoices
    from portal.mails import ReminderMails

    with _app_context():
        settings = runtime.settings()
        with db.unit_of_work() as session:
            new_invoices.send(
                session, ReminderMails(settings), batch_id, link_days=settings.pay_link_days
            )
    count_tomorrow()  # the batch changes what tomorrow's run sends


def deliver_webhooks_now() -> Any:
    """Post the due outgoing webhooks (the task, the admin's re-send and tests)."""
    from portal import runtime
    from portal.domain import outgoing

    with _app_context():
        settings = runtime.settings()
        return outgoing.deliver_due(
            db.session(),
            production=settings.is_production,
            allow_private=bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE")),
        )


@huey.task()
def deliver_webhooks() -> None:
    """Post outgoing webhooks now (enqueued after a commit that added events)."""
    deliver_webhooks_now()


@huey.periodic_task(crontab(minute="*"))
def deliver_webhooks_periodically() -> None:
    """Retries fall due with back-off; the worker looks every minute."""
    deliver_webhooks_now()


def refresh_insight_now(day: dt.date | None = None) -> Any:
    """Recompute the insight figures (ratings, predictions, DSO, ageing, forecast)."""
    from portal import runtime
    from portal.domain.clock import today
    from portal.domain.insight import refresh

    with _app_context():
        settings = runtime.settings()
        when = day or today(settings.portal_timezone)
        return refresh.run(db.session(), when, settings.portal_timezone)


@huey.task()
def refresh_insight() -> None:
    """Recompute insight now (asked for from the insight page)."""
    refresh_insight_now()


@huey.periodic_task(crontab(hour="3", minute="30"))
def refresh_insight_nightly() -> None:
    """Every night: insight's figures for the new day."""
    refresh_insight_now()


def send_insight_summaries_now(day: dt.date | None = None) -> int:
    """Queue the weekly summary for each admin who asked for it, then send."""
    from portal import runtime
    from portal.domain.clock import today
    from portal.mails.insight import queue_weekly_summaries

    with _app_context():
        settings = runtime.settings()
        when = day or today(settings.portal_timezone)
        with db.unit_of_work() as session:
            queued = queue_weekly_summaries(session, when, settings)
        return queued


@huey.periodic_task(crontab(day_of_week="1", hour="7", minute="30"))
def send_insight_summaries() -> None:
    """Monday morning: the weekly summary to the admins who asked for it."""
    send_insight_summaries_now()


def run_retention_now() -> Any:
    """Remove what is kept no longer (domain/retention.py; the periods from Settings)."""
    from pathlib import Path

    from portal.domain import retention
    from portal.domain.imports.jobs import Uploads

    with _app_context():
        settings = current_app.config["SETTINGS"]
        periods = retention.Periods(
            mail_body=dt.timedelta(days=settings.retention_mail_body_days),
            webhook_log=dt.timedelta(days=settings.retention_webhook_log_days),
            idempotency=dt.timedelta(hours=settings.retention_idempotency_hours),
            upload=dt.timedelta(hours=settings.retention_upload_hours),
        )
        uploads = Uploads(Path(current_app.instance_path) / "uploads")
        with db.unit_of_work() as session:
            purged = retention.purge(session, uploads, utcnow(), periods)
        log.info("retention: %s", purged)
        return purged


@huey.periodic_task(crontab(hour="3", minute="17"))
def retention_daily() -> None:
    """Every night: expired idempotency keys, old webhook logs, mail bodies, previews and
    uploads go."""
    run_retention_now()


def collection_sweep_now(day: dt.date | None = None) -> Any:
    """The collection queue's daily work: invoices whose schedule reached its end enter,
    settled ones leave, and the segments' rules hand over what waited long enough."""
    from portal import collecting, runtime
    from portal.domain.collection import queue as collection_queue

    with _app_context():
        when = day or runtime.business_today()

        def hand_over(session: Any, debtor_id: int, agency_id: int, invoice_ids: list[int]) -> Any:
            return collecting.hand_over(session, debtor_id, agency_id, invoice_ids, "system")

        result = collection_queue.sweep(db.session(), when, hand_over)
        db.session.commit()
        return result


@huey.periodic_task(crontab(hour="7", minute="40"))
def collection_daily() -> None:
    """After the morning's dunning run (07:00 UTC)."""
    collection_sweep_now()


def deliver_agencies_now() -> Any:
    """Post what waits for the agencies' endpoints (dossiers, recalls, portal payments)."""
    from portal import runtime
    from portal.domain.collection import delivery

    with _app_context():
        return delivery.deliver_due(
            db.session(),
            production=runtime.settings().is_production,
            allow_private=bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE")),
        )


@huey.task()
def deliver_agencies() -> None:
    """Post agency deliveries now (enqueued after a commit that added some)."""
    deliver_agencies_now()


@huey.periodic_task(crontab(minute="*"))
def deliver_agencies_periodically() -> None:
    """Retries fall due with back-off; the worker looks every minute."""
    deliver_agencies_now()
