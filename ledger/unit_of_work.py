"""Unit of work: the aggregates one command reads and changes, saved in one transaction.

A command is a function `(uow) -> result`. It loads aggregates through the unit of work and
adds the ones it creates; whoever runs it saves the unit's new events in one `save()`.

A child unit of work runs one command inside a serialised group commit (see
`group_commit.py`): it sees its parent's aggregates, including their pending events, but works
on copies, so a command that raises leaves the parent exactly as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate

A = TypeVar("A", bound=Aggregate)
Command = Callable[["UnitOfWork"], Any]


class UnitOfWork:
    def __init__(
        self,
        app: Application[UUID],
        parent: UnitOfWork | None = None,
        *,
        optimistic: bool = False,
    ) -> None:
        self.app = app
        self.parent = parent
        self.optimistic = optimistic
        """First attempt: assume idempotency keys are new and let the store say otherwise."""
        self.aggregates: dict[UUID, Aggregate] = {}
        # Aggregates loaded from the store but not (yet) touched, shared by the whole batch.
        self._loaded: dict[UUID, Aggregate | None] = {} if parent is None else parent._loaded

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate with this id, or None if it does not exist (or is of another kind)."""
        aggregate = self._lookup(cls, aggregate_id)
        return aggregate if isinstance(aggregate, cls) else None

    def _lookup(self, cls: type[Aggregate], aggregate_id: UUID) -> Aggregate | None:
        if aggregate_id in self.aggregates:
            return self.aggregates[aggregate_id]
        if self.parent is not None and aggregate_id in self.parent.aggregates:
            found: Aggregate | None = copy.deepcopy(self.parent.aggregates[aggregate_id])
        else:
            if aggregate_id not in self._loaded:
                self._loaded[aggregate_id] = self._load(cls, aggregate_id)
            pristine = self._loaded[aggregate_id]
            found = copy.deepcopy(pristine) if self.parent is not None else pristine
        if found is not None:
            self.aggregates[aggregate_id] = found
        return found

    def _load(self, cls: type[Aggregate], aggregate_id: UUID) -> Aggregate | None:
        """Long-lived kinds go through the repository (cache and snapshots); short-lived ones
        (payments, keys, bills) are read straight from their events, skipping a snapshot probe
        that could never find anything."""
        intervals = getattr(self.app, "snapshotting_intervals", None) or {}
        if cls in intervals:
            try:
                return self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        aggregate: Any = None
        for event in self.app.events.get(aggregate_id):
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        return aggregate  # type: ignore[no-any-return]

    def add(self, aggregate: A) -> A:
        self.aggregates[aggregate.id] = aggregate
        return aggregate

    def discard(self) -> None:
        """Forget every change: nothing loaded or created so far will be saved."""
        self.aggregates.clear()
        if self.parent is None:
            self._loaded.clear()

    def merge_into_parent(self) -> None:
        assert self.parent is not None
        self.parent.aggregates.update(self.aggregates)

    def pending(self) -> list[Aggregate]:
        """Aggregates with events to save."""
        return [a for a in self.aggregates.values() if a.pending_events]

    def collect(self) -> tuple[list[Any], dict[UUID, type[Aggregate]]]:
        """Take the new events out of the aggregates, with the kind of each changed aggregate."""
        changed = self.pending()
        events = [event for aggregate in changed for event in aggregate.collect_events()]
        return events, {aggregate.id: type(aggregate) for aggregate in changed}
