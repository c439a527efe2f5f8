"""Shaping reminder schedules: steps in offset order, with the legal order kept.

Rules an edit must keep: offsets from -60 to 365 days and all different; at least one
channel per step (email, SMS, letter); collection costs
only on a formal notice or a 14-day letter; a 14-day letter only after an earlier reminder
or notice (a consumer never gets one out of the blue); a step that was already sent for an
invoice stays (its record is the guard against sending it twice), though it can be changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.problems import N_, Problem
from portal.models import (
    CHANNELS,
    FEE_RULES,
    STEP_KINDS,
    InvoiceReminder,
    ReminderSchedule,
    ReminderStep,
    channels_value,
)

GAP_RULE = N_("The gap between steps is a number of days from 0 to 90.")


class ScheduleProblem(Problem):
    """An edit that breaks a rule; the message is a translatable template."""


@dataclass(frozen=True)
class StepInput:
    """One step as the admin entered it; `step_id` None for a new one."""

    step_id: int | None
    offset_days: int
    kind: str
    fee_rule: str
    min_open_cents: int
    delete: bool = False
    channels: tuple[str, ...] = ("email",)


def check(steps: Sequence[StepInput]) -> None:
    """Raise ScheduleProblem when the steps (those not deleted) break a rule."""
    kept = sorted((s for s in steps if not s.delete), key=lambda s: s.offset_days)
    offsets = [s.offset_days for s in kept]
    if len(set(offsets)) != len(offsets):
        raise ScheduleProblem(N_("Two steps have the same number of days."))
    for position, step in enumerate(kept):
        if not -60 <= step.offset_days <= 365:
            raise ScheduleProblem(N_("Days must lie between -60 and 365."))
        if step.kind not in STEP_KINDS or step.fee_rule not in FEE_RULES:
            raise ScheduleProblem(N_("Choose a kind and a cost rule from the lists."))
        if not step.channels or not set(step.channels) <= set(CHANNELS):
            raise ScheduleProblem(N_("Choose at least one channel for every step."))
        if step.min_open_cents < 0:
            raise ScheduleProblem(N_("The minimum open amount cannot be negative."))
        if step.fee_rule != "none" and step.kind not in ("notice", "fourteen_day"):
            raise ScheduleProblem(
                N_("Collection costs belong on a formal notice or a 14-day letter.")
            )
        earlier = {s.kind for s in kept[:position]}
        if step.kind == "fourteen_day" and not earlier & {"reminder", "notice"}:
            raise ScheduleProblem(N_("A 14-day letter needs an earlier reminder or notice."))


def save(
    session: Session, schedule: ReminderSchedule, steps: Sequence[StepInput], actor: str
) -> None:
    """Apply an edit of the whole step list; positions follow the offsets."""
    check(steps)
    by_id = {s.id: s for s in schedule.steps}
    used = set(
        session.scalars(
            select(InvoiceReminder.step_id).where(InvoiceReminder.step_id.in_(by_id)).distinct()
        )
    )
    for wanted in steps:
        if wanted.delete and wanted.step_id in used:
            raise ScheduleProblem(
                N_("A step that was already sent cannot be deleted; change it instead.")
            )
    # move every position out of the way first: (schedule, position) is unique
    for n, step in enumerate(schedule.steps, start=1):
        step.position = -n
    session.flush()
    kept: list[ReminderStep] = []
    for wanted in steps:
        existing = by_id.get(wanted.step_id) if wanted.step_id is not None else None
        if wanted.delete:
            if existing is not None:
                schedule.steps.remove(existing)
            continue
        step = existing or ReminderStep(schedule=schedule, position=-(len(by_id) + len(kept) + 1))
        step.offset_days, step.kind = wanted.offset_days, wanted.kind
        step.fee_rule, step.min_open_cents = wanted.fee_rule, wanted.min_open_cents
        step.channels = channels_value(wanted.channels)
        kept.append(step)
    session.flush()
    for position, step in enumerate(sorted(kept, key=lambda s: s.offset_days), start=1):
        step.position = position
    session.flush()
    audit.record(
        session,
        actor,
        "admin.schedule_saved",
        schedule=schedule.name,
        steps=[
            (s.offset_days, s.kind, s.fee_rule, s.channels)
            for s in sorted(kept, key=lambda s: s.offset_days)
        ],
        sms_daytime_only=schedule.sms_daytime_only,
        business_days_only=schedule.business_days_only,
    )


def copy_schedule(
    session: Session, source: ReminderSchedule, name: str, actor: str
) -> ReminderSchedule:
    """A new schedule with the steps of `source` (not a default for anyone)."""
    name = name.strip()[:80]
    if not name or session.scalar(select(ReminderSchedule.id).where(ReminderSchedule.name == name)):
        raise ScheduleProblem(N_("Give the schedule a name no other schedule has."))
    schedule = ReminderSchedule(
        name=name,
        min_gap_days=source.min_gap_days,
        sms_daytime_only=source.sms_daytime_only,
        business_days_only=source.business_days_only,
    )
    schedule.steps = [
        ReminderStep(
            position=s.position,
            offset_days=s.offset_days,
            kind=s.kind,
            fee_rule=s.fee_rule,
            min_open_cents=s.min_open_cents,
            channels=s.channels,
        )
        for s in source.steps
    ]
    session.add(schedule)
    session.flush()
    audit.record(session, actor, "admin.schedule_created", schedule=name, copied_from=source.name)
    return schedule
