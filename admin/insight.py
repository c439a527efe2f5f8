"""Insight pages: DSO and ageing, the cash forecast and how good the predictions were,
debtors by what they owe and their rating, and rating rules. The pages read what the
worker prepared (domain/insight/refresh.py); the invoices behind a figure are read as they
are now, one page at a time (htmx swaps them in under the figures)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from babel.dates import get_month_names
from babel.numbers import format_decimal
from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from admin import bp, charts
from admin.session import actor, admin_required, current_admin
from portal import i18n, runtime, tasks
from portal.db import db
from portal.domain.insight import ageing, read, rules, xlsx
from portal.domain.params import whole
from portal.forms import ConfirmForm
from portal.htmx import render_page
from portal.models import GRADES, AdminUser, RatingRule, Segment

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def bucket_label(index: int) -> str:
    """An ageing bucket in words."""
    return [
        _("Not due"),
        _("1–30 days"),
        _("31–60 days"),
        _("61–90 days"),
        _("Over 90 days"),
    ][index]


def grade_label(grade: str) -> str:
    """A payer rating in words."""
    return {"good": _("Good payer"), "average": _("Average payer"), "poor": _("Poor payer")}.get(
        grade, _("Not rated")
    )


def grade_plural(grade: str) -> str:
    """Debtors of a rating, in words (a rule's subject)."""
    return {"good": _("Good payers"), "average": _("Average payers"), "poor": _("Poor payers")}[
        grade
    ]


def factor_text(factor: list[Any]) -> str:
    """A rating factor ([key, points, value]) in words."""
    key, _points, value = factor
    number = round(float(value))
    texts: dict[str, Callable[[], str]] = {
        "late": lambda: _("Pays %(days)s days late on average (weighted by amount)", days=number),
        "recent": lambda: _(
            "Paid %(days)s days late on average in the last six months", days=number
        ),
        "promises": lambda: ngettext(
            "%(num)d promise to pay broken", "%(num)d promises to pay broken", number
        ),
        "plans": lambda: ngettext(
            "%(num)d payment plan breached", "%(num)d payment plans breached", number
        ),
        "disputes": lambda: ngettext(
            "%(num)d dispute we upheld", "%(num)d disputes we upheld", number
        ),
        "bouncing": lambda: _("Mail to this debtor bounces"),
    }
    return texts[key]() if key in texts else key


def month_label(iso: str) -> str:
    """'2026-03-31' -> 'Mar 26' in the current language."""
    day = dt.date.fromisoformat(iso)
    names = get_month_names("abbreviated", locale=i18n.FORMAT_LOCALE[i18n.current_language()])
    return f"{names[day.month]} {day:%y}"


def short_date(iso: str) -> str:
    """'2026-03-09' -> '9 Mar'."""
    day = dt.date.fromisoformat(iso)
    names = get_month_names("abbreviated", locale=i18n.FORMAT_LOCALE[i18n.current_language()])
    return f"{day.day} {names[day.month]}"


def decimal(value: float | None, places: int = 1, lang: str | None = None) -> str:
    """A number as the language writes it: 28.8 / 28,8; a dash when there is none."""
    if value is None:
        return "–"
    pattern = "#,##0." + "0" * places if places else "#,##0"
    locale = i18n.FORMAT_LOCALE[lang or i18n.current_language()]
    return format_decimal(value, format=pattern, locale=locale)


def _money_axis(value: float) -> str:
    return charts.whole_money(i18n.money(round(value)))


def _days_axis(value: float) -> str:
    return f"{value:.0f}"


@bp.app_template_filter("fromiso")
def from_iso(value: str) -> dt.date:
    """'2026-03-09' -> a date (prepared figures keep dates as text)."""
    return dt.date.fromisoformat(value)


@bp.context_processor
def insight_helpers() -> dict[str, Any]:
    """Words for the insight templates (also the debtor page's rating)."""
    return {
        "bucket_label": bucket_label,
        "grade_label": grade_label,
        "grade_plural": grade_plural,
        "factor_text": factor_text,
        "month_label": month_label,
        "short_date": short_date,
        "decimal": decimal,
    }


def _groups(docs: dict[str, Any], names: dict[str, str]) -> list[tuple[str, str]]:
    keys = docs.get("dso", {}).get("series", {}).keys()

    def label(key: str) -> str:
        if key == "all":
            return _("All invoices")
        kind = key.partition(":")[0]
        name = names.get(key) or (_("No segment") if kind == "segment" else key)
        return (
            _("Brand: %(name)s", name=name)
            if kind == "brand"
            else _("Segment: %(name)s", name=name)
        )

    others = sorted((k for k in keys if k != "all"), key=lambda k: (k.split(":")[0], label(k)))
    ordered = ["all", *others]
    return [(key, label(key)) for key in ordered if key == "all" or key in keys]


def _common(docs: dict[str, Any], when: dt.datetime | None) -> dict[str, Any]:
    user = current_admin()
    return {
        "docs": docs,
        "computed_at": when,
        "meta": docs.get("meta", {}),
        "names": read.group_names(db.session()),
        "summary_user": user,
    }


def _dso_chart(series: list[dict[str, Any]], months: list[str], group: str) -> charts.Chart:
    hrefs = [url_for("admin.insight_invoices", group=group, month=m, _anchor=None) for m in months]
    return charts.lines(
        [month_label(m) for m in months],
        [
            ("series-c", _("Best possible DSO"), [p["best"] for p in series]),
            ("series-b dashed", _("Standard DSO"), [p["standard"] for p in series]),
            ("series-a", _("Countback DSO"), [p["countback"] for p in series]),
        ],
        _days_axis,
        hrefs,
    )


def _ageing_chart(buckets: list[list[int]], group: str) -> charts.Chart:
    return charts.bars(
        [bucket_label(i) for i in range(len(buckets))],
        [("ageing", _("Open amount"), [cents for _count, cents in buckets])],
        _money_axis,
        hrefs=[url_for("admin.insight_invoices", group=group, bucket=i) for i in range(5)],
        classes=[f"age-{i}" for i in range(5)],
        titles=[
            f"{bucket_label(i)}: {i18n.money(cents)} ({count})"
            for i, (count, cents) in enumerate(buckets)
        ],
    )


@bp.get("/insight")
@admin_required()
def insight() -> Any:
    """DSO per month, ageing, the debtors who owe the most overdue."""
    docs, when = read.figures(db.session())
    context = _common(docs, when)
    names = context["names"]
    group = read.valid_group(request.args.get("group", "all"))
    groups = _groups(docs, names)
    if group not in dict(groups):
        group = "all"
    if "dso" in docs:
        months = docs["dso"]["months"]
        series = docs["dso"]["series"].get(group, [])
        context.update(
            dso_chart=_dso_chart(series, months, group) if series else None,
            dso_series=series,
            dso_today=docs["dso"]["today"].get(group),
            ageing_chart=_ageing_chart(docs["ageing"]["groups"].get(group, ageing.empty()), group),
            top=read.debtors(db.session(), group, "", limit=10)[0],
        )
    return render_page(
        "admin/insight.html",
        "admin/insight.html",
        group=group,
        groups=groups,
        brand_groups=[(k, names.get(k, k)) for k, _label in groups if k.startswith("brand:")],
        segment_groups=[
            (k, names.get(k) or _("No segment")) for k, _label in groups if k.startswith("segment:")
        ],
        day=runtime.business_today(),
        written_off=_written_off(),
        **context,
    )


def _written_off() -> int:
    """Euros written off in the last 12 months (all brands), for the key figures."""
    from portal.domain.collection import writeoff

    end = runtime.business_today()
    return writeoff.written_off_between(db.session(), end - dt.timedelta(days=365), end).get(
        "EUR", 0
    )


@bp.get("/insight/forecast")
@admin_required()
def insight_forecast() -> Any:
    """The cash forecast, the forecast beside what came in, and the backtest."""
    docs, when = read.figures(db.session())
    context = _common(docs, when)
    if "forecast" in docs:
        fc, bt = docs["forecast"], docs["backtest"]
        weeks = fc["weeks"]
        context["forecast_chart"] = charts.bars(
            [short_date(w) for w in weeks],
            [
                ("series-a", _("Predicted"), fc["predicted"]),
                ("series-b", _("Promised"), fc["promised"]),
                ("series-c", _("Plan instalments"), fc["instalments"]),
            ],
            _money_axis,
            hrefs=[url_for("admin.insight_invoices", week=w) for w in weeks],
            stacked=True,
        )
        past = fc["past"]
        context["past_chart"] = charts.bars(
            [short_date(p["week"]) for p in past],
            [
                ("series-a", _("Forecast"), [p["forecast"] for p in past]),
                ("series-d", _("Came in"), [p["came_in"] for p in past]),
            ],
            _money_axis,
        )
        points = [
            (c["predicted"], c["observed"], c["count"]) for c in bt["calibration"] if c["count"]
        ]
        context["calibration_chart"] = charts.calibration(points, _("Invoices"))
    return render_page("admin/insight_forecast.html", "admin/insight_forecast.html", **context)


@bp.get("/insight/debtors")
@admin_required()
def insight_debtors() -> Any:
    """Debtors by what they owe overdue, with their ages and rating; filterable."""
    docs, when = read.figures(db.session())
    context = _common(docs, when)
    group = read.valid_group(request.args.get("group", "all"))
    grade = request.args.get("grade", "")
    grade = grade if grade in GRADES else ""
    page = whole(request.args.get("page", ""), low=1, high=100_000) or 1
    rows, has_next = read.debtors(db.session(), group, grade, page)
    return render_page(
        "admin/insight_debtors.html",
        "admin/_insight_debtor_rows.html",
        rows=rows,
        has_next=has_next,
        page=page,
        group=group,
        grade=grade,
        groups=_groups(docs, context["names"]),
        **context,
    )


@bp.get("/insight/invoices")
@admin_required()
def insight_invoices() -> Any:
    """The invoices behind a figure (the rows alone for htmx)."""
    what = read.Drill.parse(request.args.to_dict())
    day = runtime.business_today()
    rows, has_next = read.drill(db.session(), day, what)
    names = read.group_names(db.session())
    return render_page(
        "admin/insight_invoices.html",
        "admin/_insight_invoices.html",
        rows=rows,
        has_next=has_next,
        what=what,
        day=day,
        group_name=names.get(what.group, ""),
    )


def _download(name: str, data: bytes) -> Response:
    response = Response(data, mimetype=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


@bp.get("/insight/<any(dso, ageing, forecast, backtest, debtors):name>.xlsx")
@admin_required()
def insight_download(name: str) -> Response:
    """The figures behind a chart as a spreadsheet."""
    docs, _when = read.figures(db.session())
    if name != "debtors" and name not in docs:
        abort(404)
    names = read.group_names(db.session())
    label = {key: text for key, text in _groups(docs, names)}
    if name == "dso":
        header = [
            _("Group"),
            _("Month end"),
            _("Sales"),
            _("Receivable"),
            _("Not yet due"),
            _("Countback DSO"),
            _("Standard DSO"),
            _("Best possible DSO"),
            _("Average days delinquent"),
        ]
        rows = [
            [
                label.get(key, key),
                dt.date.fromisoformat(p["day"]),
                p["sales"] / 100,
                p["receivable"] / 100,
                p["current"] / 100,
                p["countback"],
                p["standard"],
                p["best"],
                p["delinquent"],
            ]
            for key, series in docs["dso"]["series"].items()
            for p in series
        ]
        return _download("dso", xlsx.workbook([(_("DSO"), header, rows)]))
    if name == "ageing":
        header = [_("Group")] + [
            text
            for i in range(5)
            for text in (f"{bucket_label(i)}: {_('count')}", f"{bucket_label(i)}: {_('amount')}")
        ]
        rows = [
            [label.get(key, key)] + [v for count, cents in buckets for v in (count, cents / 100)]
            for key, buckets in docs["ageing"]["groups"].items()
        ]
        return _download("ageing", xlsx.workbook([(_("Ageing"), header, rows)]))
    if name == "forecast":
        fc = docs["forecast"]
        header = [
            _("Week from"),
            _("Predicted"),
            _("Promised"),
            _("Plan instalments"),
            _("Expected"),
        ]
        rows = [
            [
                dt.date.fromisoformat(w),
                fc["predicted"][i] / 100,
                fc["promised"][i] / 100,
                fc["instalments"][i] / 100,
                fc["expected"][i] / 100,
            ]
            for i, w in enumerate(fc["weeks"])
        ]
        past_header = [
            _("Week from"),
            _("Forecast"),
            _("Reconstructed"),
            _("Came in"),
            _("Came in from newer invoices"),
        ]
        past = [
            [
                dt.date.fromisoformat(p["week"]),
                p["forecast"] / 100,
                _("yes") if p["reconstructed"] else _("no"),
                p["came_in"] / 100,
                p["came_in_new"] / 100,
            ]
            for p in fc["past"]
        ]
        return _download(
            "forecast",
            xlsx.workbook(
                [(_("Forecast"), header, rows), (_("Forecast and came in"), past_header, past)]
            ),
        )
    if name == "backtest":
        bt = docs["backtest"]
        header = [
            _("Chance of paying late from"),
            _("to"),
            _("Invoices"),
            _("Predicted"),
            _("Observed"),
        ]
        rows = [
            [_pct(c["low"]), _pct(c["high"]), c["count"], _pct(c["predicted"]), _pct(c["observed"])]
            for c in bt["calibration"]
        ]
        return _download("backtest", xlsx.workbook([(_("Calibration"), header, rows)]))
    group = read.valid_group(request.args.get("group", "all"))
    grade = request.args.get("grade", "")
    found, _more = read.debtors(
        db.session(), group, grade if grade in GRADES else "", 1, limit=100_000
    )
    header = (
        [_("Customer number"), _("Name"), _("Rating"), _("Score")]
        + [bucket_label(i) for i in range(5)]
        + [_("Overdue")]
    )
    rows = [
        [
            r.debtor.number,
            r.debtor.name,
            grade_label(r.rating.grade) if r.rating else "",
            r.rating.score if r.rating else None,
        ]
        + [cents / 100 for _count, cents in (r.age.buckets if r.age else ageing.empty())]
        + [(r.age.overdue_cents if r.age else 0) / 100]
        for r in found
    ]
    return _download("debtors", xlsx.workbook([(_("Debtors"), header, rows)]))


@bp.post("/insight/refresh")
@admin_required()
def insight_refresh() -> BaseResponse:
    """Ask the worker to compute the figures again now."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    tasks.refresh_insight()
    flash(_("The worker is computing the figures again; reload this page in a minute."), "success")
    return redirect(url_for("admin.insight"), code=303)


@bp.post("/insight/summary")
@admin_required()
def insight_summary() -> BaseResponse:
    """The signed-in admin's choice of the weekly summary by mail, and its language."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = db.session.get(AdminUser, current_admin().id) or abort(404)  # type: ignore[union-attr]
    user.weekly_summary = request.form.get("weekly_summary") == "1"
    language = request.form.get("language", "")
    if language in i18n.LANGUAGES:
        user.language = language
    db.session.commit()
    flash(
        _("You get the weekly summary on Monday mornings.")
        if user.weekly_summary
        else _("You no longer get the weekly summary."),
        "success",
    )
    return redirect(url_for("admin.insight") + "#summary", code=303)


# --------------------------------------------------------------------------- rules
def _segments() -> list[Segment]:
    return list(db.session.scalars(select(Segment).order_by(Segment.name)))


@bp.route("/insight/rules", methods=["GET", "POST"])
@admin_required()
def insight_rules() -> Any:
    """Rating rules: which grade moves to which segment; a full admin adds them."""
    error = None
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        if not current_admin().is_admin:  # type: ignore[union-attr]
            abort(403)
        try:
            rule = rules.create(
                db.session(),
                request.form.get("grade", ""),
                whole(request.form.get("from_segment", ""), low=1),
                whole(request.form.get("to_segment", ""), low=1),
                actor(),
            )
        except rules.RuleRefused as exc:
            db.session.rollback()
            error = _(exc.msgid)
        else:
            db.session.commit()
            return redirect(url_for("admin.insight_rule", rule_id=rule.id), code=303)
    docs, when = read.figures(db.session())
    found = list(db.session.scalars(select(RatingRule).order_by(RatingRule.id)))
    return render_page(
        "admin/insight_rules.html",
        "admin/insight_rules.html",
        http_status=422 if error else 200,
        rules=found,
        segments=_segments(),
        error=error,
        **_common(docs, when),
    )


@bp.get("/insight/rules/<int:rule_id>")
@admin_required()
def insight_rule(rule_id: int) -> Any:
    """Who the rule would move now, before anyone applies it."""
    rule = db.session.get(RatingRule, rule_id) or abort(404)
    page = whole(request.args.get("page", ""), low=1, high=100_000) or 1
    count, rows, has_next = rules.preview(db.session(), rule, page)
    docs, when = read.figures(db.session())
    return render_page(
        "admin/insight_rule.html",
        "admin/insight_rule.html",
        rule=rule,
        count=count,
        rows=rows,
        has_next=has_next,
        page=page,
        stamp=rules.ratings_stamp(db.session()),
        **_common(docs, when),
    )


@bp.post("/insight/rules/<int:rule_id>/apply")
@admin_required(full_admin=True)
def insight_rule_apply(rule_id: int) -> BaseResponse:
    """Move the debtors the preview showed; audited on each debtor's timeline."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    rule = db.session.get(RatingRule, rule_id) or abort(404)
    try:
        seen = dt.datetime.fromisoformat(request.form.get("stamp", ""))
    except ValueError:
        seen = None
    try:
        moved = rules.apply(db.session(), rule, actor(), seen)
    except rules.RuleRefused as exc:
        db.session.rollback()
        flash(_(exc.msgid), "error")
        return redirect(url_for("admin.insight_rule", rule_id=rule_id), code=303)
    db.session.commit()
    flash(ngettext("%(num)d debtor moved.", "%(num)d debtors moved.", moved), "success")
    return redirect(url_for("admin.insight_rule", rule_id=rule_id), code=303)


@bp.post("/insight/rules/<int:rule_id>/delete")
@admin_required(full_admin=True)
def insight_rule_delete(rule_id: int) -> BaseResponse:
    """Remove a rule; the moves it made stay."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    rule = db.session.get(RatingRule, rule_id) or abort(404)
    rules.remove(db.session(), rule, actor())
    db.session.commit()
    flash(_("Rule removed."), "success")
    return redirect(url_for("admin.insight_rules"), code=303)


def debtor_panel(debtor_id: int, day: dt.date) -> dict[str, Any]:
    """The debtor page's insight part: rating, behaviour per quarter, predictions."""
    found = read.debtor_insight(db.session(), debtor_id, day)
    quarters = [q for q in found.quarters if q.invoices]
    chart = None
    if quarters:
        chart = charts.bars(
            [f"Q{(q.first.month - 1) // 3 + 1} {q.first:%y}" for q in quarters],
            [("series-b", _("Days late"), [q.days_late or 0.0 for q in quarters])],
            _days_axis,
            titles=[
                _("%(days)s days late on average", days=f"{q.days_late or 0:.0f}") for q in quarters
            ],
        )
    return {"insight": found, "behaviour": quarters, "behaviour_chart": chart}
