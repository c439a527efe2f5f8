"""A reminder schedule of its own for each test (the e2e tests empty every table)."""

from __future__ import annotations

import pytest

from portal.db import db
from portal.models import ReminderSchedule, ReminderStep
from tests.factories import create_segment

STEPS = [
    (-3, "nudge", "none"),
    (7, "reminder", "none"),
    (14, "reminder", "none"),
    (21, "notice", "none"),
    (28, "fourteen_day", "wik"),
    (45, "collection", "none"),
]


@pytest.fixture
def segment(app):
    schedule = ReminderSchedule(name=f"Test {id(object())}", min_gap_days=7)
    schedule.steps = [
        ReminderStep(position=n, offset_days=o, kind=k, fee_rule=f)
        for n, (o, k, f) in enumerate(STEPS, start=1)
    ]
    db.session.add(schedule)
    db.session.commit()
    return create_segment(schedule_id=schedule.id)
