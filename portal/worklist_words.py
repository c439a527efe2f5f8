"""The work queue in words (reasons, outcomes, priorities, log entries), in the current
language; templates get them as globals."""

from __future__ import annotations

from flask_babel import gettext
from markupsafe import Markup


def task_reason_label(reason: str) -> str:
    """Why a task exists."""
    words = {
        "call": gettext("Call (reminder schedule)"),
        "broken_promise": gettext("Promise to pay not kept"),
        "plan_breached": gettext("Payment plan breached"),
        "letter_undelivered": gettext("14-day letter not delivered"),
        "address_bounced": gettext("Email address bounces"),
        "dispute_waiting": gettext("Dispute waiting 5 days for an answer"),
        "manual": gettext("Made by hand"),
    }
    return words.get(reason, reason)


def task_outcome_label(outcome: str) -> str:
    """What a clerk logged."""
    words = {
        "promise": gettext("Promised to pay"),
        "dispute": gettext("Disputed"),
        "wrong_number": gettext("Wrong number"),
        "no_answer": gettext("No answer"),
        "paid_already": gettext("Says it is paid already"),
        "note": gettext("Note"),
        "done": gettext("Done"),
        "cancel": gettext("Cancelled"),
        "settled": gettext("Nothing owed any more"),
    }
    return words.get(outcome, outcome)


def task_status_badge(status: str) -> Markup:
    """A task's status in words and colour together."""
    words = {"open": gettext("Open"), "done": gettext("Done"), "cancelled": gettext("Cancelled")}
    css = {"done": "badge-paid", "cancelled": "badge-muted"}
    return Markup('<span class="badge {}">{}</span>').format(
        css.get(status, "badge-open"), words.get(status, status)
    )


def priority_badge(value: int) -> Markup:
    """A priority in words and colour together, with its number."""
    from portal.domain.worklist.service import priority_word

    word = priority_word(value)
    label = {"high": gettext("High"), "normal": gettext("Normal"), "low": gettext("Low")}[word]
    css = {"high": "badge-overdue", "normal": "badge-partly", "low": "badge-muted"}[word]
    return Markup('<span class="badge {}" title="{}">{} · {}</span>').format(
        css, gettext("Priority %(n)s of 100", n=value), label, value
    )


def task_event_label(action: str) -> str:
    """An audit event of the work queue, for the debtor's timeline."""
    if action == "dunning.call_task":
        return gettext("Call task made for the team")
    if action == "task.created":
        return gettext("Task made for the team")
    if action == "task.event":
        return gettext("Another event added to an open task")
    if action == "task.assigned":
        return gettext("Task assigned")
    if action == "task.settled":
        return gettext("Task closed: nothing owed any more")
    outcome = action.partition(".")[2]
    return gettext("Call logged: %(outcome)s", outcome=task_outcome_label(outcome))
