"""The debtor's payment plans: ask for one over chosen open invoices with a live preview of
the schedule, agree to it when it lies within the segment's policy, and see it afterwards.
Every query filters on the debtor's id; amounts come from the server, never the browser."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from portal import i18n
from portal.db import db
from portal.debtor_session import debtor_required, signed_in_debtor
from portal.domain import documents
from portal.domain.params import ids
from portal.domain.plans import lifecycle, listing, progress, proposals, schedules
from portal.domain.states import IllegalTransition
from portal.forms import AgreeForm, PlanForm
from portal.htmx import redirect_to
from portal.i18n import current_language, message_text, money
from portal.mails import PlanMails
from portal.models import Debtor, InstalmentPlan, PlanStatus, utcnow
from portal.routes.portal import download
from portal.runtime import business_today, settings

bp = Blueprint("plans", __name__)


def _chosen_ids() -> list[int]:
    return ids(request.form.getlist("invoice"))


def _plan_form(debtor: Debtor) -> PlanForm:
    """The plan form offering only the frequencies of the debtor's segment's policy."""
    form = PlanForm()
    offered = proposals.policy_for(db.session(), debtor.segment_id).frequencies
    choices = form.frequency.choices
    assert isinstance(choices, list)  # declared on the form as a list of SelectChoice
    form.frequency.choices = [c for c in choices if getattr(c, "value", None) in offered]
    return form


def _proposal(form: PlanForm, debtor: Debtor) -> proposals.Proposal | None:
    """The proposal the form describes, or None while it is incomplete."""
    if not form.validate() or form.start.data is None:
        return None
    per = form.per_instalment.cents
    if per is None and not form.count.data:
        form.count.errors = [_("Choose a number of instalments or an amount per instalment.")]
        return None
    return proposals.propose(
        db.session(),
        debtor,
        _chosen_ids(),
        form.start.data,
        form.frequency.data or schedules.MONTHLY,
        business_today(),
        count=form.count.data,
        per_instalment_cents=per,
    )


def _agreement(
    total_cents: int,
    currency: str,
    numbers: list[str],
    schedule: schedules.Schedule,
    replaces: bool = False,
) -> str:
    """What the debtor agrees to, in their language, with the amounts the server computed."""
    lines = [
        _(
            "I agree to pay %(total)s for invoices %(numbers)s in %(count)d instalments:",
            total=money(total_cents, currency),
            numbers=", ".join(numbers),
            count=len(schedule),
        )
    ]
    lines += [f"{i18n.date(day)}: {money(cents, currency)}" for day, cents in schedule]
    lines.append(_("If I miss an instalment, reminders for these invoices resume."))
    if replaces:
        lines.append(_("This plan replaces my earlier payment plan."))
    return "\n".join(lines)


def agreement_text(proposal: proposals.Proposal) -> str:
    """The agreement of a plan the debtor asks for online."""
    numbers = [i.number for i in proposal.invoices]
    currency = proposal.invoices[0].currency
    return _agreement(proposal.total_cents, currency, numbers, proposal.schedule)


def _render(form: PlanForm, proposal: proposals.Proposal | None, status: int = 200) -> Any:
    debtor = signed_in_debtor()
    context = {
        "form": form,
        "proposal": proposal,
        "invoices": proposals.eligible_invoices(db.session(), debtor.id),
        "chosen": set(_chosen_ids()),
        "agreement": agreement_text(proposal) if proposal and proposal.schedule else "",
        "first": business_today(),
    }
    return render_template("plans/new.html", **context), status


def _agreed(plan: InstalmentPlan) -> BaseResponse:
    """Confirm an agreed plan by mail (its schedule and where to pay), commit, and show it."""
    PlanMails(settings()).update(
        db.session(),
        plan,
        _(
            "Thank you: your payment plan is agreed. Pay each instalment in your portal or"
            " through the link in its reminder; the agreement is there as a PDF too."
        ),
    )
    db.session.commit()
    flash(
        _("Thank you. Your payment plan is agreed; reminders for these invoices wait."), "success"
    )
    return redirect_to(url_for("plans.plan_detail", plan_id=plan.id))


@bp.route("/plans/new", methods=["GET", "POST"])
@debtor_required
def new_plan() -> Any:
    debtor = signed_in_debtor()
    form = _plan_form(debtor)
    if request.method == "GET":
        form.start.data = business_today()
        form.count.data = 3
        return _render(form, None)
    proposal = _proposal(form, debtor)
    if request.form.get("action") == "review" and proposal is not None and proposal.schedule:
        lifecycle.ask_review(
            db.session(), debtor, proposal, request.form.get("message", ""), f"debtor:{debtor.id}"
        )
        db.session.commit()
        flash(_("Thank you. We look at your payment plan and answer by email."), "success")
        return redirect_to(url_for("requests.my_requests"))
    if request.form.get("action") != "accept" or proposal is None or not proposal.can_accept:
        return _render(form, proposal, 200 if proposal and proposal.within_policy else 422)
    if not form.agree.data:
        form.agree.errors = [_("Tick the box to agree to the plan.")]
        return _render(form, proposal, 422)
    try:
        plan = lifecycle.accept(
            db.session(),
            proposal,
            agreement_text(proposal),
            request.remote_addr or "",
            f"debtor:{debtor.id}",
            business_today(),
        )
    except lifecycle.PlanRefused:
        db.session.rollback()
        return _render(form, proposal, 422)
    return _agreed(plan)


@bp.post("/plans/preview")
@debtor_required
def preview() -> Any:
    """The schedule for the form as it stands (htmx swaps it into the page)."""
    debtor = signed_in_debtor()
    form = _plan_form(debtor)
    proposal = _proposal(form, debtor)
    return render_template(
        "plans/_plan_preview.html",
        form=form,
        proposal=proposal,
        agreement=agreement_text(proposal) if proposal and proposal.schedule else "",
    )


@bp.get("/plans/<int:plan_id>/agreement.pdf")
@debtor_required
def agreement_pdf(plan_id: int) -> Response:
    """The agreement as accepted, as a PDF to keep."""
    plan = listing.get_plan(db.session(), signed_in_debtor().id, plan_id) or abort(404)
    if plan.accepted_at is None:
        abort(404)
    pdf = documents.plan_agreement_pdf(
        db.session(),
        plan,
        i18n.moment(plan.accepted_at, settings().portal_timezone),
        current_language(),
        render_template,
    )
    return download(pdf, "application/pdf", f"{_('payment-plan')}-{plan.id}.pdf")


def plan_agreement_text(plan: InstalmentPlan) -> str:
    """The agreement of a plan an admin proposed."""
    numbers = [link.invoice.number for link in plan.invoices]
    schedule = [(i.due_date, i.cents) for i in plan.instalments]
    return _agreement(plan.total_cents, plan.currency, numbers, schedule, bool(plan.replaces_id))


def _own_plan(plan_id: int) -> InstalmentPlan:
    """The debtor's own plan; another debtor's id is a 404."""
    return listing.get_plan(db.session(), signed_in_debtor().id, plan_id) or abort(404)


def _detail(plan: InstalmentPlan, form: AgreeForm, error: str = "", status: int = 200) -> Any:
    agreement = plan_agreement_text(plan) if plan.status == PlanStatus.PROPOSED.value else ""
    progress.refresh(db.session(), plan, utcnow())  # shown as it stands now
    following = progress.first_open(plan) if plan.status == PlanStatus.ACTIVE else None
    return render_template(
        "plans/detail.html",
        plan=plan,
        form=form,
        agreement=agreement,
        error=error,
        next_instalment=following,
        today=business_today(),
    ), status


@bp.get("/plans/<int:plan_id>")
@debtor_required
def plan_detail(plan_id: int) -> Any:
    return _detail(_own_plan(plan_id), AgreeForm())


@bp.post("/plans/<int:plan_id>/accept")
@debtor_required
def plan_accept(plan_id: int) -> Any:
    """The debtor agrees to a plan an admin proposed."""
    plan = _own_plan(plan_id)
    form = AgreeForm()
    if plan.status != PlanStatus.PROPOSED.value:
        abort(409)
    if not form.validate_on_submit() or not form.agree.data:
        form.agree.errors = [_("Tick the box to agree to the plan.")]
        return _detail(plan, form, status=422)
    debtor = signed_in_debtor()
    try:
        lifecycle.accept(
            db.session(),
            plan,
            plan_agreement_text(plan),
            request.remote_addr or "",
            f"debtor:{debtor.id}",
            business_today(),
            dt.datetime.now(dt.UTC),
        )
    except lifecycle.PlanRefused as problem:
        db.session.rollback()
        return _detail(_own_plan(plan_id), form, message_text(problem), 422)
    except IllegalTransition:
        abort(409)
    return _agreed(plan)


@bp.post("/plans/<int:plan_id>/decline")
@debtor_required
def plan_decline(plan_id: int) -> Any:
    """The debtor does not want the proposed plan."""
    plan = _own_plan(plan_id)
    if plan.status != PlanStatus.PROPOSED.value:
        abort(409)
    debtor = signed_in_debtor()
    lifecycle.decline(db.session(), plan, f"debtor:{debtor.id}", dt.datetime.now(dt.UTC))
    db.session.commit()
    flash(_("You declined the proposal. Contact us if you want another plan."), "success")
    return redirect_to(url_for("plans.plan_detail", plan_id=plan.id))
