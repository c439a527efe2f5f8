"""One state-table type and one error for payments, plans, requests and outbox messages."""

import enum

import pytest

from portal.domain import requests as req
from portal.domain import states
from portal.domain.collection.models import (
    ENTRY_MOVES,
    HANDOVER_MOVES,
    EntryState,
    HandoverState,
)
from portal.domain.messaging import outbox
from portal.domain.payments import service
from portal.domain.plans import lifecycle
from portal.domain.worklist.models import TASK_MOVES, TaskStatus
from portal.models import (
    OutboxMessage,
    OutboxStatus,
    PaymentStatus,
    PlanStatus,
    RequestState,
)

TABLES = [
    (service.MOVES, PaymentStatus),
    (lifecycle.PLAN_MOVES, PlanStatus),
    (req.MOVES, RequestState),
    (outbox.MOVES, OutboxStatus),
    (ENTRY_MOVES, EntryState),
    (HANDOVER_MOVES, HandoverState),
    (TASK_MOVES, TaskStatus),
]


class Light(enum.StrEnum):
    RED = "red"
    GREEN = "green"
    AMBER = "amber"
    OFF = "off"


LIGHT = states.StateTable(
    "light",
    {
        Light.RED: {Light.GREEN, Light.OFF},
        Light.GREEN: {Light.AMBER, Light.OFF},
        Light.AMBER: {Light.RED, Light.OFF},
        Light.OFF: (),
    },
)


def test_a_table_allows_only_the_moves_it_lists():
    LIGHT.check(Light.RED, Light.GREEN)
    LIGHT.check("amber", "red")  # stored values are plain strings
    with pytest.raises(states.IllegalTransition) as refused:
        LIGHT.check(Light.RED, Light.AMBER)
    assert str(refused.value) == "a light cannot move from red to amber"
    assert (refused.value.old, refused.value.new) == ("red", "amber")
    assert LIGHT.is_final(Light.OFF) and not LIGHT.is_final(Light.RED)
    assert LIGHT.sources(Light.OFF) == {Light.RED, Light.GREEN, Light.AMBER}
    with pytest.raises(states.IllegalTransition):
        LIGHT.check("blue", Light.RED)  # an unknown state moves nowhere


def test_a_table_whose_move_reaches_an_unlisted_state_is_refused_when_written():
    with pytest.raises(ValueError, match="without a row"):
        states.StateTable("light", {Light.RED: {Light.GREEN}})


@pytest.mark.parametrize(("table", "kind"), TABLES, ids=lambda x: getattr(x, "name", ""))
def test_every_state_of_payments_plans_requests_and_messages_has_a_row(table, kind):
    assert table.states == set(kind)


@pytest.mark.parametrize(
    ("table", "old", "new"),
    [
        (service.MOVES, PaymentStatus.PAID, PaymentStatus.OPEN),
        (lifecycle.PLAN_MOVES, PlanStatus.COMPLETED, PlanStatus.ACTIVE),
        (req.MOVES, RequestState.RESOLVED, RequestState.OPEN),
        (outbox.MOVES, OutboxStatus.SENT, OutboxStatus.PENDING),
        (ENTRY_MOVES, EntryState.HANDED_OVER, EntryState.WAITING),
        (HANDOVER_MOVES, HandoverState.RECALLED, HandoverState.ACTIVE),
    ],
)
def test_every_table_refuses_with_the_one_error(table, old, new):
    with pytest.raises(states.IllegalTransition):
        table.check(old, new)


def test_a_sent_or_cancelled_message_is_never_claimed_or_queued_again():
    sent = OutboxMessage(status=OutboxStatus.SENT.value)
    with pytest.raises(states.IllegalTransition):
        outbox.move(sent, OutboxStatus.SENDING)
    cancelled = OutboxMessage(status=OutboxStatus.CANCELLED.value)
    with pytest.raises(states.IllegalTransition):
        outbox.move(cancelled, OutboxStatus.PENDING)
    doubt = OutboxMessage(status=OutboxStatus.DOUBT.value)
    outbox.move(doubt, OutboxStatus.PENDING)  # a person sends it again
    assert doubt.status == OutboxStatus.PENDING


def test_only_a_message_being_sent_falls_into_doubt_and_erasure_cancels_what_waits():
    assert outbox.MOVES.sources(OutboxStatus.DOUBT) == {OutboxStatus.SENDING}
    assert outbox.MOVES.sources(OutboxStatus.CANCELLED) == {
        OutboxStatus.PENDING,
        OutboxStatus.DOUBT,
    }
