"""Payment plans in admin: each segment's plan policy, the list and detail of plans, and a
plan proposed (from a plan request or for a debtor), changed or cancelled. Thin: the rules
live in portal/domain/plans/."""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin import bp
from admin.forms import CancelPlanForm, PlanDraftForm, PlanPolicyForm
from admin.session import actor, admin_required, current_admin
from portal import runtime
from portal.db import db
from portal.domain import audit
from portal.domain import requests as req
from portal.domain.params import ids, page_number, whole
from portal.domain.plans import lifecycle, listing, proposals, schedules
from portal.domain.states import IllegalTransition
from portal.i18n import message_text, plan_status_label
from portal.mails import PlanMails
from portal.models import Debtor, DebtorRequest, InstalmentPlan, PlanPolicy, PlanStatus, Segment


def _mails() -> PlanMails:
    return PlanMails(runtime.settings())


def _euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


# --- the policy per segment -------------------------------------------------------------


@bp.route("/segments/<int:segment_id>/plan-policy", methods=["GET", "POST"])
@admin_required(full_admin=True)
def plan_policy(segment_id: int) -> Any:
    segment = db.session.get(Segment, segment_id) or abort(404)
    row = db.session.scalars(select(PlanPolicy).where(PlanPolicy.segment_id == segment.id)).first()
    current = proposals.policy_for(db.session(), segment.id)
    form = PlanPolicyForm()
    if request.method == "GET":
        form.min_total.data = _euros(current.min_total_cents)
        form.max_instalments.data = current.max_instalments
        form.min_instalment.data = _euros(current.min_instalment_cents)
        form.max_days.data = current.max_days
        form.down_payment_pct.data = current.down_payment_pct
        form.frequencies.data = list(current.frequencies)
        form.breach_days.data = current.breach_days
        form.auto_approve.data = current.auto_approve
    elif form.validate_on_submit():
        values: dict[str, Any] = {
            "min_total_cents": form.min_total.cents,
            "max_instalments": form.max_instalments.data,
            "min_instalment_cents": form.min_instalment.cents,
            "max_days": form.max_days.data,
            "down_payment_pct": form.down_payment_pct.data,
            "frequencies": ",".join(
                f for f in schedules.FREQUENCIES if f in (form.frequencies.data or [])
            ),
            "breach_days": form.breach_days.data,
            "auto_approve": bool(form.auto_approve.data),
        }
        if row is None:
            row = PlanPolicy(segment_id=segment.id)
            db.session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        audit.record(
            db.session(), actor(), "admin.plan_policy_saved", segment=segment.name, **values
        )
        db.session.commit()
        flash(_("Plan policy saved."), "success")
        return redirect(url_for("admin.plan_policy", segment_id=segment.id), code=303)
    return render_template(
        "admin/plan_policy.html", segment=segment, form=form, own=row is not None
    ), (422 if form.errors else 200)


# --- list and detail --------------------------------------------------------------------


@bp.get("/plans")
@admin_required()
def plan_list() -> str:
    status = request.args.get("status", "")
    status = status if status in set(PlanStatus) else ""
    raw_page = request.args.get("page", "1")
    page = page_number(raw_page)
    rows, total = listing.listing(db.session(), status or None, page)
    pages = max(1, -(-total // listing.PAGE_SIZE))
    if page > pages:  # past the end (a typed or stale page number): show the last page
        page = pages
        rows, total = listing.listing(db.session(), status or None, page)
    return render_template(
        "admin/plans.html",
        rows=rows,
        total=total,
        status=status,
        statuses=list(PlanStatus),
        page=page,
        pages=pages,
    )


def _plan(plan_id: int) -> InstalmentPlan:
    return listing.get(db.session(), plan_id) or abort(404)


def plan_conflict(plan_id: int) -> NoReturn:
    """The 409 of the admin who lost a race on a plan: where the plan stands now."""
    plan = _plan(plan_id)
    pending = db.session.scalar(
        select(InstalmentPlan.id).where(
            InstalmentPlan.replaces_id == plan.id,
            InstalmentPlan.status == PlanStatus.PROPOSED.value,
        )
    )
    text = _(
        "Someone else just decided this: plan #%(id)s is now %(status)s.",
        id=plan.id,
        status=plan_status_label(plan.status),
    )
    if pending is not None:
        text += " " + _(
            "A change to it is already proposed (plan #%(id)s); cancel that one first.",
            id=pending,
        )
    abort(409, text)


@bp.get("/plans/<int:plan_id>")
@admin_required()
def plan_detail(plan_id: int) -> str:
    plan = _plan(plan_id)
    return render_template(
        "admin/plan.html",
        plan=plan,
        trail=listing.trail(db.session(), plan),
        replaces=db.session.get(InstalmentPlan, plan.replaces_id) if plan.replaces_id else None,
        successors=db.session.scalars(
            select(InstalmentPlan)
            .where(InstalmentPlan.replaces_id == plan.id)
            .order_by(InstalmentPlan.id.desc())
        ).all(),
        request_item=db.session.get(DebtorRequest, plan.request_id) if plan.request_id else None,
    )


# --- propose, change, cancel ------------------------------------------------------------


def _draft(
    form: PlanDraftForm, debtor: Debtor, replacing: InstalmentPlan | None
) -> proposals.Proposal | None:
    """The draft the form describes, or None while the form itself has errors."""
    if not form.validate_on_submit() or form.start.data is None:
        return None
    chosen = (
        [link.invoice_id for link in replacing.invoices]
        if replacing is not None
        else ids(request.form.getlist("invoice"))
    )
    per = form.per_instalment.cents
    return proposals.draft(
        db.session(),
        debtor,
        chosen,
        form.start.data,
        form.frequency.data or schedules.MONTHLY,
        runtime.business_today(),
        count=None if per is not None else form.count.data,
        per_instalment_cents=per,
        down_payment_pct=form.down_payment_pct.data or 0,
        replacing=replacing,
    )


def _propose_page(
    debtor: Debtor,
    title: str,
    *,
    item: DebtorRequest | None = None,
    replaces: InstalmentPlan | None = None,
    defaults: dict[str, Any] | None = None,
    chosen: set[int] | None = None,
) -> Any:
    """The propose form (GET: prefilled), its preview (action=preview) and the proposal
    itself (action=propose)."""
    form = PlanDraftForm()  # CSRF: CSRFProtect refuses a POST without the token (400)
    draft: proposals.Proposal | None = None
    if request.method == "GET":
        for name, value in (defaults or {}).items():
            getattr(form, name).data = value
    else:
        chosen = set(ids(request.form.getlist("invoice")))
        draft = _draft(form, debtor, replaces)
        if draft is not None and draft.ok and request.form.get("action") == "propose":
            admin = current_admin()
            assert admin is not None
            try:
                plan = lifecycle.offer(
                    db.session(),
                    draft,
                    admin.email,
                    actor(),
                    _mails(),
                    note=form.note.data or "",
                    request=item,
                    replaces=replaces,
                    request_seen=whole(request.form.get("seen", "")) if item else None,
                )
            except lifecycle.PlanRefused as problem:
                db.session.rollback()
                flash(message_text(problem), "error")
                return redirect(request.path, code=303)
            except (IllegalTransition, req.ChangedMeanwhile):
                db.session.rollback()
                if item is not None:
                    from admin.requests import decided_elsewhere

                    decided_elsewhere(item.id)
                assert replaces is not None
                plan_conflict(replaces.id)
            db.session.commit()
            flash(_("Plan proposed; the debtor gets it by email to agree."), "success")
            return redirect(url_for("admin.plan_detail", plan_id=plan.id), code=303)
    pool = (
        [link.invoice for link in replaces.invoices]
        if replaces is not None
        else proposals.eligible_invoices(db.session(), debtor.id)
    )
    status = 200
    if request.method == "POST" and (draft is None or not draft.ok):
        status = 422
    return render_template(
        "admin/plan_propose.html",
        title=title,
        debtor=debtor,
        form=form,
        draft=draft,
        pool=pool,
        chosen=chosen if chosen is not None else {i.id for i in pool},
        item=item,
        replaces=replaces,
        first=runtime.business_today(),
    ), status


def request_plan_form(item: DebtorRequest) -> dict[str, Any]:
    """The propose form for a plan request, prefilled with what the debtor asked for
    (for the request page and the propose page)."""
    details = item.details or {}
    schedule = details.get("schedule") or []
    policy = proposals.policy_for(db.session(), item.debtor.segment_id)
    form = PlanDraftForm(formdata=None)
    form.frequency.data = details.get("frequency") or schedules.MONTHLY
    form.count.data = len(schedule) or 3
    form.start.data = max(
        runtime.business_today(), _iso(schedule[0][0]) if schedule else runtime.business_today()
    )
    form.down_payment_pct.data = policy.down_payment_pct
    pool = proposals.eligible_invoices(db.session(), item.debtor_id)
    return {
        "plan_form": form,
        "pool": pool,
        "chosen": set(listing.request_invoice_ids(item)),
        "replaces": None,
        "first": runtime.business_today(),
        "action_url": url_for("admin.request_plan", request_id=item.id),
    }


@bp.route("/requests/<int:request_id>/plan", methods=["GET", "POST"])
@admin_required()
def request_plan(request_id: int) -> Any:
    item = db.session.get(DebtorRequest, request_id) or abort(404)
    if item.kind != "plan":
        abort(404)
    if item.closed:
        from admin.requests import decided_elsewhere

        decided_elsewhere(item.id)
    prefilled = request_plan_form(item)
    form = prefilled["plan_form"]
    return _propose_page(
        item.debtor,
        _("Propose a plan for request #%(id)s", id=item.id),
        item=item,
        defaults={name: getattr(form, name).data for name in PREFILLED},
        chosen=prefilled["chosen"],
    )


PREFILLED = ("frequency", "count", "start", "down_payment_pct")


def _iso(value: object) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return dt.date.min


@bp.route("/debtors/<int:debtor_id>/plan", methods=["GET", "POST"])
@admin_required()
def debtor_plan(debtor_id: int) -> Any:
    debtor = db.session.get(Debtor, debtor_id) or abort(404)
    policy = proposals.policy_for(db.session(), debtor.segment_id)
    return _propose_page(
        debtor,
        _("Propose a plan to %(name)s", name=debtor.name),
        defaults={
            "count": 3,
            "start": runtime.business_today() + dt.timedelta(days=7),
            "frequency": policy.frequencies[0] if policy.frequencies else schedules.MONTHLY,
            "down_payment_pct": policy.down_payment_pct,
        },
    )


@bp.route("/plans/<int:plan_id>/change", methods=["GET", "POST"])
@admin_required()
def plan_change(plan_id: int) -> Any:
    plan = _plan(plan_id)
    if plan.status != PlanStatus.ACTIVE.value:
        plan_conflict(plan.id)
    unpaid = [i for i in plan.instalments if i.open_cents > 0]
    return _propose_page(
        plan.debtor,
        _("Change plan #%(id)s", id=plan.id),
        replaces=plan,
        defaults={
            "count": max(len(unpaid), 1),
            "start": max(
                runtime.business_today(), unpaid[0].due_date if unpaid else runtime.business_today()
            ),
            "frequency": plan.frequency,
            "down_payment_pct": 0,
        },
    )


@bp.route("/plans/<int:plan_id>/cancel", methods=["GET", "POST"])
@admin_required()
def plan_cancel(plan_id: int) -> Any:
    plan = _plan(plan_id)
    if plan.status not in (PlanStatus.ACTIVE.value, PlanStatus.PROPOSED.value):
        plan_conflict(plan.id)
    form = CancelPlanForm()
    if form.validate_on_submit():
        try:
            lifecycle.cancel(
                db.session(),
                plan,
                form.reason.data or "",
                actor(),
                dt.datetime.now(dt.UTC),
                _mails(),
            )
        except lifecycle.PlanRefused as problem:
            db.session.rollback()
            form.reason.errors = [message_text(problem)]
        except IllegalTransition:
            db.session.rollback()
            plan_conflict(plan.id)
        else:
            db.session.commit()
            flash(_("Plan cancelled; the debtor gets your reason by email."), "success")
            return redirect(url_for("admin.plan_detail", plan_id=plan.id), code=303)
    return render_template("admin/plan_cancel.html", plan=plan, form=form), (
        422 if form.errors else 200
    )
