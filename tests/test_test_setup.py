"""The test setup itself: emptying the tables between committed tests keeps what the
migrations ship, so a test that relies on it passes whichever tests ran before it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.db import db
from portal.models import InterestRate, ReminderSchedule, ReminderStep
from tests.conftest import empty_tables
from tests.factories import create_debtor


@pytest.mark.committed
def test_emptying_the_tables_keeps_the_shipped_schedules_and_rates(app, committed):
    def count(model):
        return db.session.scalar(select(func.count()).select_from(model))

    shipped = (count(ReminderSchedule), count(ReminderStep), count(InterestRate))
    assert all(shipped), shipped
    create_debtor()
    db.session.remove()
    empty_tables()
    assert (count(ReminderSchedule), count(ReminderStep), count(InterestRate)) == shipped
    assert db.session.scalars(select(ReminderSchedule.name)).all()  # the defaults, by name
