"""The nightly recompute: settlement days, DSO, ageing, ratings, predictions, the cash
forecast and the backtest, written to the tables the pages read.

Three short transactions, so a long computation never holds locks: record new settlement
days (commit), read the book (end the transaction), compute in memory, write everything
(commit). Two runs at once write one after the other (a PostgreSQL advisory lock; SQLite
transactions queue by themselves).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from portal.domain.bulk import insert_rows
from portal.domain.insight import ageing, backtest, dso, settle
from portal.domain.insight.book import PAID_BY_CREDIT, Book, load
from portal.domain.insight.forecast import Forecast, came_in, week_starts
from portal.domain.insight.predict import fit_many
from portal.domain.insight.rating import History, rate
from portal.models import (
    Allocation,
    DebtorAgeing,
    DebtorRating,
    ForecastSnapshot,
    InsightFigures,
    InvoicePrediction,
    Payment,
    utcnow,
)

MONTHS = 12
_LOCK = 19_190_019  # the advisory lock of the write step (PostgreSQL)


@dataclass(frozen=True)
class Result:
    """What a recompute did, and how long it took."""

    settled: int
    invoices: int
    rated: int
    predicted: int
    seconds: float


@dataclass
class Computed:
    """Everything a recompute writes."""

    figures: dict[str, dict[str, Any]]
    ratings: list[dict[str, Any]]
    predictions: list[dict[str, Any]]
    ageing: list[dict[str, Any]]
    snapshot: list[dict[str, Any]]


def run(session: Session, day: dt.date, timezone: str, now: dt.datetime | None = None) -> Result:
    """Recompute everything for `day` and commit (in three steps, see above)."""
    started = time.perf_counter()
    now = now or utcnow()
    settled = settle.record(session, timezone)
    session.commit()
    book = load(session, day)
    partial = partial_payments(session, book, timezone)
    snapshots = stored_forecasts(session, day)
    session.rollback()  # ends the reading transaction
    computed = compute(book, partial, snapshots, now)
    computed.figures["meta"] = {
        "invoices": len(book),
        "left_out_currency": book.left_out_currency,
        "left_out_unknown": book.left_out_unknown,
        "rated": len(computed.ratings),
        "predicted": len(computed.predictions),
        "seconds": round(time.perf_counter() - started, 1),
    }
    write(session, day, computed, now)
    session.commit()
    return Result(
        settled,
        len(book),
        len(computed.ratings),
        len(computed.predictions),
        time.perf_counter() - started,
    )


def partial_payments(
    session: Session, book: Book, timezone: str
) -> dict[int, list[tuple[int, int]]]:
    """The portal's payments on open, partly paid invoices: row -> [(ordinal day, cents)]."""
    rows = {
        book.ids[row]: row
        for row in range(len(book))
        if not book.paid[row] and book.open[row] < book.total[row]
    }
    zone = ZoneInfo(timezone)
    out: dict[int, list[tuple[int, int]]] = {}
    ids = list(rows)
    for start in range(0, len(ids), 5000):
        found = session.execute(
            select(
                Allocation.invoice_id,
                Allocation.created_at,
                Allocation.amount_cents - Allocation.reversed_cents,
            )
            .join(Payment, Payment.id == Allocation.payment_id)
            .where(Allocation.invoice_id.in_(ids[start : start + 5000]), ~Payment.test_mode)
        )
        for invoice_id, created_at, cents in found:
            if cents > 0:
                day = created_at.astimezone(zone).date().toordinal()
                out.setdefault(rows[invoice_id], []).append((day, int(cents)))
    return out


def stored_forecasts(session: Session, day: dt.date) -> dict[str, int]:
    """The forecasts made on the Mondays of the last 13 weeks for their own week."""
    first = backtest.cutoff(day)
    return {
        made_on.isoformat(): int(cents)
        for made_on, cents in session.execute(
            select(ForecastSnapshot.made_on, ForecastSnapshot.expected_cents).where(
                ForecastSnapshot.made_on >= first,
                ForecastSnapshot.made_on == ForecastSnapshot.week_start,
                ~ForecastSnapshot.reconstructed,
            )
        )
    }


def compute(
    book: Book,
    partial: dict[int, list[tuple[int, int]]],
    snapshots: dict[str, int],
    now: dt.datetime,
) -> Computed:
    """Every figure from the book, in memory (no database)."""
    day = book.day
    today = day.toordinal()
    month_ends = dso.month_ends(day, MONTHS)
    week_ago = day - dt.timedelta(days=7)
    cut_days = sorted({*month_ends, week_ago, day})
    points = dso.points(book, cut_days, partial)
    at = {d: i for i, d in enumerate(cut_days)}
    dso_doc = {
        "months": [d.isoformat() for d in month_ends],
        "series": {
            key: [series[at[d]].as_json() for d in month_ends] for key, series in points.items()
        },
        "today": {key: series[at[day]].as_json() for key, series in points.items()},
        "week_ago": {key: series[at[week_ago]].as_json() for key, series in points.items()},
    }
    ages = ageing.ageing(book)
    model, earlier = fit_many(book, [today - 1, backtest.known_until(day)])
    forecast = Forecast(day, week_starts(day))
    forecast.add_instalments(book.instalments)
    ratings: list[dict[str, Any]] = []
    predictions: list[dict[str, Any]] = []
    for debtor_id, rows in book.debtors():
        history = History(
            broken_promises=book.broken_promises.get(debtor_id, 0),
            breached_plans=book.breached_plans.get(debtor_id, 0),
            upheld_disputes=book.upheld_disputes.get(debtor_id, 0),
            bouncing=debtor_id in book.bouncing,
        )
        blend = None
        for row in rows:
            due, paid = book.due[row], book.paid[row]
            if paid:
                if book.how[row] != PAID_BY_CREDIT:
                    history.invoices.append((due, book.total[row], paid - due, True))
                continue
            if due < today:
                history.invoices.append((due, book.total[row], today - due, False))
            if blend is None:
                blend = model.blend(book, rows)
            prediction = blend.predict(today - due)
            predictions.append(
                {
                    "invoice_id": book.ids[row],
                    "predicted_on": (
                        None
                        if prediction.days is None
                        else dt.date.fromordinal(due + prediction.days)
                    ),
                    "late_pct": round(prediction.late * 100),
                }
            )
            forecast.add_invoice(book, row, blend, prediction)
        rating = rate(history, today)
        if rating is not None:
            ratings.append(
                {
                    "debtor_id": debtor_id,
                    "score": rating.score,
                    "grade": rating.grade,
                    "factors": [list(f) for f in rating.factors],
                    "basis": rating.basis,
                    "days_late": round(rating.days_late),
                    "computed_at": now,
                }
            )
    tested = backtest.run(book, earlier)
    older, newer = came_in(book, tested.weeks)
    past = []
    for index, week in enumerate(tested.weeks):
        stored = snapshots.get(week.isoformat())
        past.append(
            {
                "week": week.isoformat(),
                "forecast": stored if stored is not None else round(tested.week_forecast[index]),
                "reconstructed": stored is None,
                "came_in": older[index],
                "came_in_new": newer[index],
            }
        )
    forecast_doc = forecast.as_json()
    forecast_doc["past"] = past
    ageing_rows = [
        {
            "debtor_id": debtor_id,
            "brand_id": age.brand_id,
            "segment_id": age.segment_id or None,
            "open_cents": age.open_cents,
            "overdue_cents": age.overdue_cents,
            "buckets": age.buckets,
        }
        for debtor_id, age in ages.debtors.items()
    ]
    snapshot = (
        [
            {
                "made_on": day,
                "week_start": week,
                "expected_cents": forecast.expected(index),
                "reconstructed": False,
            }
            for index, week in enumerate(forecast.weeks)
        ]
        if day.weekday() == 0
        else []
    )
    return Computed(
        figures={
            "dso": dso_doc,
            "ageing": {"day": day.isoformat(), "groups": ages.groups},
            "forecast": forecast_doc,
            "backtest": tested.as_json(),
        },
        ratings=ratings,
        predictions=predictions,
        ageing=ageing_rows,
        snapshot=snapshot,
    )


def write(session: Session, day: dt.date, computed: Computed, now: dt.datetime) -> None:
    """Replace what the pages read with what was computed (the caller commits)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    for model, rows in (
        (DebtorRating, computed.ratings),
        (InvoicePrediction, computed.predictions),
        (DebtorAgeing, computed.ageing),
    ):
        session.execute(delete(model))
        insert_rows(session, model, rows)
    session.execute(delete(InsightFigures).where(InsightFigures.key.in_(list(computed.figures))))
    insert_rows(
        session,
        InsightFigures,
        [{"key": k, "data": v, "computed_at": now} for k, v in computed.figures.items()],
    )
    if computed.snapshot:
        session.execute(delete(ForecastSnapshot).where(ForecastSnapshot.made_on == day))
        insert_rows(session, ForecastSnapshot, computed.snapshot)
