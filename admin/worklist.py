"""The team's work queue: My tasks (and the team's), everyone's tasks for full admins, one
screen per task with the debtor's history and a call guide, outcomes in a few clicks, and
tasks made by hand from the debtor page."""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from admin import bp, words
from admin.session import actor, admin_required, current_admin
from admin.words import local_time
from portal.db import db
from portal.domain.params import whole
from portal.domain.problems import Problem
from portal.domain.worklist import history, service
from portal.domain.worklist.models import WorkTask
from portal.forms import ConfirmForm
from portal.htmx import render_page
from portal.i18n import message_text
from portal.models import DISPUTE_REASONS, AdminUser, Debtor
from portal.runtime import business_today
from portal.worklist_words import task_outcome_label


def _admin() -> AdminUser:
    user = current_admin()
    assert user is not None
    return user


def _guard() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _people() -> list[AdminUser]:
    return list(
        db.session.scalars(
            select(AdminUser).where(AdminUser.active.is_(True)).order_by(AdminUser.email)
        )
    )


def _queue_page(flt: service.QueueFilter, endpoint: str) -> Any:
    admin = _admin()
    day = business_today()
    try:
        rows, has_next = service.queue(db.session(), admin, flt, day)
    except service.NotAllowed:
        abort(403)
    return render_page(
        "admin/tasks.html",
        "admin/_task_rows.html",
        rows=rows,
        has_next=has_next,
        flt=flt,
        endpoint=endpoint,
        counts=service.counts(db.session(), admin, day),
        today=day,
    )


@bp.get("/tasks")
@admin_required()
def task_list() -> Any:
    """My tasks and the team's unassigned ones (or only the team's), due or all."""
    flt = service.QueueFilter.parse(request.args.to_dict())
    if flt.view == "all":
        flt = service.QueueFilter(view="mine", due=flt.due, page=flt.page)
    return _queue_page(flt, "admin.task_list")


@bp.get("/tasks/all")
@admin_required(full_admin=True)
def task_all() -> Any:
    """Every open task, whoever has it (full admins)."""
    args = request.args.to_dict()
    flt = service.QueueFilter.parse({**args, "view": "all"})
    return _queue_page(flt, "admin.task_all")


def _load(task_id: int) -> WorkTask:
    try:
        task = service.get_for(db.session(), task_id, _admin())
    except service.NotAllowed:
        abort(403)
    return task or abort(404)


def _for_change(task_id: int) -> WorkTask:
    """The task a form acts on; rights are checked by the domain after the version, so a
    clerk who lost a race for a team task learns that (409), not that it is not theirs."""
    return db.session.get(WorkTask, task_id) or abort(404)


def _task_page(task: WorkTask, problem: str = "", status: int = 200) -> Any:
    debtor = task.debtor
    day = business_today()
    with force_locale(debtor.language):  # the guide is read to the customer in their language
        guide = Markup(  # noqa: S704 (a template of ours, autoescaped)
            render_template(
                "admin/_call_guide.html",
                task=task,
                debtor=debtor,
                open_invoices=service.open_invoices(db.session(), debtor.id),
            )
        )
    past = history.of_debtor(db.session(), debtor.id)
    return render_template(
        "admin/task.html",
        task=task,
        debtor=debtor,
        guide=guide,
        flag=service.phone_flag(db.session(), debtor),
        open_invoices=service.open_invoices(db.session(), debtor.id),
        promise_ids=service.promisable(db.session(), debtor.id, day),
        past=past,
        numbers=words.invoice_numbers({e.invoice_id for e in past.events if e.invoice_id}),
        people=_people(),
        reasons=DISPUTE_REASONS,
        problem=problem,
        today=day,
        retry_default=day + dt.timedelta(days=1),
        promise_default=day + dt.timedelta(days=7),
    ), status


@bp.get("/tasks/<int:task_id>")
@admin_required()
def task_detail(task_id: int) -> Any:
    """One task: the debtor's history, open invoices, phone, guide and the outcome forms."""
    return _task_page(_load(task_id))


def _changed(task_id: int) -> NoReturn:
    """The 409 of the clerk who lost a race: what the task is now, and who acted last."""
    db.session.rollback()
    task = db.session.get(WorkTask, task_id) or abort(404)
    last = task.entries[-1] if task.entries else None
    who = last.actor if last is not None else ""
    if who.startswith("admin:") and who[6:].isdigit():
        person = db.session.get(AdminUser, int(who[6:]))
        who = person.email if person is not None else who
    what = task_outcome_label(last.outcome) if last is not None and last.outcome else ""
    abort(
        409,
        _(
            "Someone else just worked this task: %(what)s by %(who)s at %(time)s. Your"
            " outcome was not logged; open the task again to see where it stands.",
            what=what or _("a change"),
            who=who or _("someone"),
            time=local_time(last.at if last is not None else None),
        ),
    )


def _seen() -> int | None:
    return whole(request.form.get("version", ""))


@bp.post("/tasks/<int:task_id>/outcome")
@admin_required()
def task_outcome(task_id: int) -> Any:
    """Log an outcome and do what it says; one commit."""
    _guard()
    task = _for_change(task_id)
    form = request.form
    logged = service.Logged(
        outcome=form.get("outcome", ""),
        note=form.get("note", ""),
        promise_date=_day(form.get("promise_date")),
        invoice_ids=[i for i in (whole(v) for v in form.getlist("invoice")) if i is not None],
        dispute_invoice_id=whole(form.get("dispute_invoice", "")),
        dispute_reason=form.get("dispute_reason", ""),
        retry_on=_day(form.get("retry_on")),
    )
    try:
        service.log_outcome(
            db.session(), task, _admin(), logged, actor(), business_today(), _seen()
        )
    except service.TaskChanged:
        _changed(task_id)
    except service.NotAllowed:
        db.session.rollback()
        abort(403)
    except Problem as problem:
        db.session.rollback()
        return _task_page(_load(task_id), message_text(problem), 422)
    db.session.commit()
    flash(_("Logged: %(outcome)s.", outcome=task_outcome_label(logged.outcome)), "success")
    if task.is_open and logged.outcome == "note":
        return redirect(url_for("admin.task_detail", task_id=task.id), 303)
    return redirect(url_for("admin.task_list"), 303)


@bp.post("/tasks/<int:task_id>/assign")
@admin_required()
def task_assign(task_id: int) -> BaseResponse:
    """Take a team task, give one back, or (full admins) give it to someone."""
    _guard()
    task = _for_change(task_id)
    raw = request.form.get("admin_id", "")
    to_id = whole(raw) if raw else None
    try:
        service.assign(db.session(), task, _admin(), to_id, actor(), _seen())
    except service.TaskChanged:
        _changed(task_id)
    except service.NotAllowed:
        db.session.rollback()
        abort(403)
    except Problem as problem:
        db.session.rollback()
        flash(message_text(problem), "error")
        return redirect(url_for("admin.task_detail", task_id=task_id), 303)
    db.session.commit()
    flash(_("Assigned."), "success")
    return redirect(url_for("admin.task_detail", task_id=task_id), 303)


@bp.post("/debtors/<int:debtor_id>/tasks")
@admin_required()
def task_new(debtor_id: int) -> BaseResponse:
    """A task made by hand from the debtor page."""
    _guard()
    debtor = db.session.get(Debtor, debtor_id) or abort(404)
    raw = request.form.get("assignee", "")
    assignee = whole(raw) if raw else None
    due = _day(request.form.get("due_on")) or business_today()
    try:
        task = service.make_by_hand(
            db.session(),
            _admin(),
            debtor,
            request.form.get("note", ""),
            due,
            assignee,
            actor(),
            business_today(),
        )
    except service.NotAllowed:
        db.session.rollback()
        abort(403)
    except Problem as problem:
        db.session.rollback()
        flash(message_text(problem), "error")
        return redirect(url_for("admin.debtor_detail", debtor_id=debtor_id) + "#tasks", 303)
    db.session.commit()
    flash(_("Task made."), "success")
    return redirect(url_for("admin.task_detail", task_id=task.id), 303)


@bp.context_processor
def worklist_helpers() -> dict[str, Any]:
    """The work queue's words for the templates."""
    from portal import worklist_words as words

    return {
        "task_reason_label": words.task_reason_label,
        "task_outcome_label": words.task_outcome_label,
        "task_status_badge": words.task_status_badge,
        "priority_badge": words.priority_badge,
        "debtor_tasks": debtor_tasks,
    }


def debtor_tasks(debtor_id: int) -> dict[str, Any]:
    """What the debtor page shows of the work queue (its tasks, the form's choices)."""
    return {
        "debtor_tasks": service.of_debtor(db.session(), debtor_id),
        "task_people": _people(),
    }
