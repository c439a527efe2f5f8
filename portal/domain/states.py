"""One way to write a state table: payments, plans, requests and outbox messages use it.

A table lists, for each state, the states it may move to; a state with no moves is final.
A move the table does not list raises `IllegalTransition`, whatever the table.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

S = TypeVar("S", bound=enum.StrEnum)


class IllegalTransition(ValueError):
    """A change of state that the thing's table does not allow."""

    def __init__(self, table: str, old: str, new: str) -> None:
        super().__init__(f"a {table} cannot move from {old} to {new}")
        self.table, self.old, self.new = table, str(old), str(new)


class StateTable(Generic[S]):
    """The allowed moves between the states of one kind of thing (`name`, for errors)."""

    def __init__(self, name: str, moves: Mapping[S, Iterable[S]]) -> None:
        self.name = name
        self._moves: dict[S, frozenset[S]] = {state: frozenset(to) for state, to in moves.items()}
        unknown = {t for to in self._moves.values() for t in to} - set(self._moves)
        if unknown:  # every state a move reaches is listed, if only as final
            raise ValueError(f"{name}: states without a row: {sorted(unknown)}")

    @property
    def states(self) -> frozenset[S]:
        """Every state of the table."""
        return frozenset(self._moves)

    def targets(self, state: S | str) -> frozenset[S]:
        """The states `state` may move to (none for a final or unknown state)."""
        return self._moves.get(state, frozenset())  # type: ignore[arg-type]

    def sources(self, new: S | str) -> frozenset[S]:
        """The states that may move to `new` (for an UPDATE that moves many rows at once)."""
        return frozenset(old for old, to in self._moves.items() if new in to)

    def allows(self, old: S | str, new: S | str) -> bool:
        """True when the table lists the move `old` → `new`."""
        return new in self.targets(old)

    def is_final(self, state: S | str) -> bool:
        """True for a state nothing moves on from."""
        return not self.targets(state)

    def check(self, old: S | str, new: S | str) -> None:
        """Raise `IllegalTransition` unless the table lists `old` → `new`."""
        if not self.allows(old, new):
            raise IllegalTransition(self.name, str(old), str(new))
