"""Dispatch after commit: a worker step's or a request's commit wakes the worker for what
it added, once; a rollback wakes nobody; work arranged outside them waits for the worker's
periodic rounds."""

from __future__ import annotations

import pytest

from portal import dispatch
from portal.db import db
from portal.domain.messaging import outbox


@pytest.fixture
def woken(monkeypatch):
    jobs: list[tuple[str, tuple]] = []
    monkeypatch.setattr(dispatch, "_enqueue", jobs.extend)
    return jobs


def mail(n: int) -> None:
    outbox.queue_email(
        db.session(), kind="test", recipient=f"p{n}@example.com", subject="Hi", body_text="."
    )


def test_a_commit_wakes_the_outbox_once_and_a_rollback_wakes_nobody(app, woken):
    with dispatch.step():
        mail(1)
        db.session.flush()
        db.session.rollback()
        assert woken == []
        db.session.commit()
        assert woken == []  # the rolled-back mail is not remembered for the next commit
        mail(2)
        mail(3)
        dispatch.later(db.session(), "run_import_job", 7)
        db.session.commit()
    assert sorted(woken) == [("run_import_job", (7,)), ("send_outbox", ())]  # each once


def test_rows_arranged_outside_a_request_or_step_wake_nobody(app, woken):
    mail(1)
    db.session.commit()
    assert woken == []
