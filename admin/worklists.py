"""Bulk work on the invoice and debtor lists (rows ticked, or all the filter matches, after
a confirmation that names the count), exports, and saved filters per admin. Changes are
for full admins; clerks may export and save filters."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.session import actor, admin_required, current_admin
from portal import runtime
from portal.db import db
from portal.domain import audit, worklists
from portal.domain import debtors as debtor_domain
from portal.domain import invoices as inv
from portal.domain.params import ids, whole
from portal.forms import ConfirmForm
from portal.models import AdminUser, Debtor, Invoice

ACTION_WORDS = {
    "pause": _l("Pause reminders"),
    "resume": _l("Resume reminders"),
    "second_chance": _l("Send a second chance (a fresh pay-link by mail)"),
    "xlsx": _l("Export as Excel"),
    "csv": _l("Export as CSV"),
}
LISTS = {"invoices": "admin.invoices", "debtors": "admin.debtors"}
FILTER_KEYS = {
    "invoices": ("q", "brand", "segment", "status", "days"),
    "debtors": ("q", "brand", "grade"),
}


def _me() -> AdminUser:
    return current_admin() or abort(403)


def list_query(list_name: str, args: Any) -> str:
    """The filter part of a list's address (no page), as saved and carried by bulk forms."""
    keys = FILTER_KEYS[list_name]
    return urlencode([(k, v) for k, v in args.items() if k in keys and v])


def _invoices_chosen(list_name: str, query: str, scope: str) -> Select[Any]:
    """The invoice ids the bulk form means: the rows ticked or all the filter matches."""
    args = dict(parse_qsl(query))
    if list_name == "invoices":
        if scope == "filter":
            day = runtime.business_today()
            matching = inv.AdminFilter.parse(args)
            return inv.admin_matching(matching, day).with_only_columns(Invoice.id)
        return select(Invoice.id).where(Invoice.id.in_(ids(request.form.getlist("id"))))
    if scope == "filter":
        debtor_ids = debtor_domain.matching_ids(
            db.session(),
            args.get("q", "")[:80],
            whole(args.get("brand", "")),
            args.get("grade", ""),
        )
    else:
        debtor_ids = select(Debtor.id).where(Debtor.id.in_(ids(request.form.getlist("id"))))
    return worklists.open_invoices_of_debtors(debtor_ids)


@bp.post("/<any(invoices, debtors):list_name>/bulk")
@admin_required()
def bulk(list_name: str) -> Any:
    """Export, or (full admins, after confirming the count) change, the rows chosen."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    action = request.form.get("action", "")
    scope = "filter" if request.form.get("scope") == "filter" else "selection"
    query = list_query(list_name, dict(parse_qsl(request.form.get("query", ""))))
    back = url_for(LISTS[list_name]) + (f"?{query}" if query else "")
    if action not in worklists.CHANGES and action not in worklists.EXPORTS:
        flash(_("Choose what to do with the rows."), "error")
        return redirect(back, 303)
    chosen = _invoices_chosen(list_name, query, scope)
    session = db.session()
    n = worklists.count(session, chosen)
    if n == 0:
        flash(_("Tick the rows first, or choose all that match the filter."), "error")
        return redirect(back, 303)
    if action in worklists.EXPORTS:
        return _export(action, chosen, scope, query, n)
    if not _me().is_admin:
        abort(403)
    if n > worklists.MAX_ROWS:
        flash(
            _("At most %(n)d invoices at once: narrow the filter.", n=worklists.MAX_ROWS), "error"
        )
        return redirect(back, 303)
    expected = whole(request.form.get("expected", ""), low=0)
    if request.form.get("confirm") != "1" or expected != n:
        return render_template(
            "admin/bulk_confirm.html",
            list_name=list_name,
            action=action,
            action_words=ACTION_WORDS[action],
            scope=scope,
            query=query,
            chosen_ids=request.form.getlist("id"),
            count=n,
            changed_since=request.form.get("confirm") == "1",
            back=back,
            form=ConfirmForm(),
        )
    settings = runtime.settings()
    outcome = worklists.apply(
        session,
        action,
        chosen,
        actor(),
        runtime.business_today(),
        scope=scope,
        described=query,
        mailer=runtime.mails(),
        link_days=settings.pay_link_days,
    )
    session.commit()
    flash(
        _(
            "%(action)s: %(done)d of %(count)d invoices changed; the others already were"
            " or cannot be (not open, no email address).",
            action=ACTION_WORDS[action],
            done=outcome.done,
            count=n,
        ),
        "success",
    )
    return redirect(back, 303)


def _export(action: str, chosen: Select[Any], scope: str, query: str, n: int) -> Response:
    session = db.session()
    audit.record(
        session, actor(), "admin.exported", format=action, scope=scope, filter=query, rows=n
    )
    rows = worklists.export_rows(session, chosen)
    if action == "xlsx":
        body: bytes | str = worklists.to_xlsx(rows)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, mimetype = worklists.to_csv(rows), "text/csv"
    session.commit()
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="invoices.{action}"'
    return response


@bp.post("/<any(invoices, debtors):list_name>/filters")
@admin_required()
def filter_save(list_name: str) -> BaseResponse:
    """Save the list's current filter under a name (for this admin only)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    query = list_query(list_name, dict(parse_qsl(request.form.get("query", ""))))
    try:
        worklists.save_filter(
            db.session(), _me().id, list_name, request.form.get("name", ""), query, actor()
        )
    except worklists.FilterRefused:
        db.session.rollback()
        flash(
            _("Give the filter a name (at most %(n)d filters per list).", n=worklists.MAX_FILTERS),
            "error",
        )
    else:
        db.session.commit()
        flash(_("Filter saved."), "success")
    return redirect(url_for(LISTS[list_name]) + (f"?{query}" if query else ""), 303)


@bp.post("/filters/<int:filter_id>/delete")
@admin_required()
def filter_delete(filter_id: int) -> BaseResponse:
    """Remove one of the admin's own saved filters."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    list_name = request.form.get("list", "invoices")
    if not worklists.delete_filter(db.session(), _me().id, filter_id, actor()):
        abort(404)
    db.session.commit()
    flash(_("Filter removed."), "success")
    return redirect(url_for(LISTS.get(list_name, "admin.invoices")), 303)


@bp.app_template_global("saved_filters")
def saved_filters_of(list_name: str) -> list[Any]:
    """The signed-in admin's saved filters of a list (for the list pages)."""
    me = current_admin()
    return worklists.saved_filters(db.session(), me.id, list_name) if me else []


@bp.app_template_global("list_query")
def list_query_global(list_name: str) -> str:
    """The current list filter as a query string."""
    return list_query(list_name, request.args)
