"""Rating rules: "poor payers go to the stricter schedule". A rule moves the debtors of a
grade (in one segment, or in any) to another segment, and so to that segment's reminder
schedule and terms. An admin sees who would move first; applying is an audited action that
moves exactly the debtors the preview showed, or refuses when the ratings were recomputed
in between."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.bulk import insert_rows
from portal.domain.problems import N_
from portal.models import (
    GRADES,
    AuditEvent,
    Debtor,
    DebtorRating,
    InsightFigures,
    RatingRule,
    Segment,
    utcnow,
)

CHUNK = 5000


class RuleRefused(Exception):
    """A rule that cannot be made or applied; `msgid` says why in words."""

    def __init__(self, msgid: str) -> None:
        super().__init__(msgid)
        self.msgid = msgid


def create(
    session: Session, grade: str, from_segment_id: int | None, to_segment_id: int | None, actor: str
) -> RatingRule:
    """A new rule (the caller commits)."""
    if grade not in GRADES:
        raise RuleRefused(N_("Choose a rating."))
    target = session.get(Segment, to_segment_id) if to_segment_id else None
    if target is None:
        raise RuleRefused(N_("Choose the segment the debtors move to."))
    if from_segment_id is not None and session.get(Segment, from_segment_id) is None:
        raise RuleRefused(N_("Choose the segment the debtors move from, or any segment."))
    if from_segment_id == to_segment_id:
        raise RuleRefused(N_("The debtors must move to another segment."))
    rule = RatingRule(
        grade=grade, from_segment_id=from_segment_id, to_segment_id=target.id, created_by=actor
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor,
        "insight.rule_created",
        rule=rule.id,
        grade=grade,
        from_segment=from_segment_id,
        to_segment=target.id,
    )
    return rule


def remove(session: Session, rule: RatingRule, actor: str) -> None:
    """Delete a rule (moves it made stay)."""
    audit.record(session, actor, "insight.rule_removed", rule=rule.id)
    session.delete(rule)


def _movers(rule: RatingRule) -> Select[Any]:
    stmt = (
        select(Debtor.id)
        .join(DebtorRating, DebtorRating.debtor_id == Debtor.id)
        .where(
            DebtorRating.grade == rule.grade,
            (Debtor.segment_id != rule.to_segment_id) | Debtor.segment_id.is_(None),
        )
    )
    if rule.from_segment_id is not None:
        stmt = stmt.where(Debtor.segment_id == rule.from_segment_id)
    return stmt


def ratings_stamp(session: Session) -> dt.datetime | None:
    """When the ratings now in use were computed."""
    return session.scalar(select(InsightFigures.computed_at).where(InsightFigures.key == "meta"))


def preview(
    session: Session, rule: RatingRule, page: int = 1, per_page: int = 50
) -> tuple[int, list[tuple[Debtor, DebtorRating]], bool]:
    """How many debtors the rule would move now, one page of them, and whether there is a
    next page."""
    ids = _movers(rule).subquery()
    count = session.scalar(select(func.count()).select_from(ids)) or 0
    rows = session.execute(
        select(Debtor, DebtorRating)
        .join(DebtorRating, DebtorRating.debtor_id == Debtor.id)
        .where(Debtor.id.in_(select(ids.c.id)))
        .order_by(DebtorRating.score, Debtor.id)
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    found = [(d, r) for d, r in rows]
    return count, found[:per_page], len(found) > per_page


def apply(session: Session, rule: RatingRule, actor: str, seen: dt.datetime | None) -> int:
    """Move the debtors the preview showed (the ratings computed at `seen`); the caller
    commits. Each move is on the debtor's timeline."""
    current = ratings_stamp(session)
    if current is None or seen is None or current != seen:
        raise RuleRefused(N_("The ratings were computed again since the preview; check it again."))
    moving = session.execute(
        select(Debtor.id, Debtor.segment_id).where(Debtor.id.in_(_movers(rule)))
    ).all()
    ids = [debtor_id for debtor_id, _old in moving]
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(Debtor)
            .where(Debtor.id.in_(ids[start : start + CHUNK]))
            .values(segment_id=rule.to_segment_id)
        )
    now = utcnow()
    events = [
        {
            "at": now,
            "actor": actor,
            "action": "debtor.segment_moved",
            "debtor_id": debtor_id,
            "invoice_id": None,
            "details": {
                "rule": rule.id,
                "grade": rule.grade,
                "from_segment": old,
                "to_segment": rule.to_segment_id,
            },
        }
        for debtor_id, old in moving
    ]
    insert_rows(session, AuditEvent, events)
    rule.applied_at, rule.applied_by, rule.moved = now, actor, len(ids)
    audit.record(session, actor, "insight.rule_applied", rule=rule.id, moved=len(ids))
    return len(ids)
