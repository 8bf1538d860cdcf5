"""Unit of work: the aggregates one command reads and changes, saved in one transaction.

A command is a function `(uow) -> result`. It loads aggregates through the unit of work and
adds the ones it creates; whoever runs it saves the unit's new events in one `save()`.

A child unit of work runs one command inside a serialised group commit or a batch (see
`group_commit.py`): it sees its parent's aggregates, including their pending events, but works
on copies, so a command that raises leaves the parent exactly as it was.

Loads go through the process's aggregate cache (`aggregate_cache.py`). A unit that trusts the
cache takes a copy as it is, with no round trip, and records the version it read; the save then
proves those versions current (`Changes.expected_versions`). A unit that does not trust it
(plain reads, re-runs after a conflict) fast-forwards the copy from the store first.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate

from ledger.aggregate_cache import AggregateCache
from ledger.domain.idempotency import IdempotencyRecord

A = TypeVar("A", bound=Aggregate)
Command = Callable[["UnitOfWork"], Any]


@dataclass
class Changes:
    """What a unit of work will save: its new events, and what must still hold at commit."""

    events: list[Any] = field(default_factory=list)
    kinds: dict[UUID, type[Aggregate]] = field(default_factory=dict)
    expected_versions: dict[UUID, int] = field(default_factory=dict)
    """Aggregates read but not written, at the version read: the save checks them."""
    aggregates: list[Aggregate] = field(default_factory=list)
    """Every aggregate of the unit: committed state once the save succeeds (for the cache)."""

    @property
    def touched(self) -> set[UUID]:
        return set(self.kinds) | set(self.expected_versions)

    def merge(self, other: Changes) -> None:
        self.events.extend(other.events)
        self.kinds.update(other.kinds)
        for aggregate_id, version in other.expected_versions.items():
            # Two reads of one aggregate: the older must hold too.
            known = self.expected_versions.get(aggregate_id, version)
            self.expected_versions[aggregate_id] = min(known, version)
        self.aggregates.extend(other.aggregates)

    def finish(self) -> None:
        """Drop the checks the primary key already makes: an aggregate written on top of the
        very version that was read. (A read older than what another command of the same
        batch writes on stays checked: the recorder runs the checks before the inserts.)"""
        bases: dict[UUID, int] = {}
        for event in self.events:
            base = event.originator_version - 1
            bases[event.originator_id] = min(bases.get(event.originator_id, base), base)
        for aggregate_id, base in bases.items():
            if self.expected_versions.get(aggregate_id) == base:
                del self.expected_versions[aggregate_id]


class UnitOfWork:
    def __init__(
        self,
        app: Application[UUID],
        parent: UnitOfWork | None = None,
        *,
        optimistic: bool = False,
        trust_cache: bool = False,
    ) -> None:
        self.app = app
        self.parent = parent
        self.optimistic = optimistic
        """First attempt: assume idempotency keys are new and let the store say otherwise."""
        self.trust_cache: bool = trust_cache if parent is None else parent.trust_cache
        self.trusted = False
        """Whether anything was taken from the cache unchecked (the save must prove it)."""
        self.aggregates: dict[UUID, Aggregate] = {}
        # Aggregates loaded but not (yet) touched, and the versions read, shared by a batch.
        self._loaded: dict[UUID, Aggregate | None] = {} if parent is None else parent._loaded
        self._read: dict[UUID, int] = {} if parent is None else parent._read
        self.cache: AggregateCache | None = getattr(app, "aggregate_cache", None)

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
        cacheable = self.cache is not None and cls is not IdempotencyRecord  # keys: read once
        cached = self.cache.get(aggregate_id) if cacheable and self.cache else None
        if cached is not None and self.trust_cache:
            self.trusted = True
            self._read[aggregate_id] = cached.version
            return cached
        aggregate = (
            self._fast_forward(cached)
            if cached is not None
            else self._load_from_store(cls, aggregate_id)
        )
        if aggregate is not None:
            self._read[aggregate_id] = aggregate.version
            if cacheable and self.cache is not None:
                self.cache.offer(copy.deepcopy(aggregate))
        return aggregate

    def _fast_forward(self, aggregate: Aggregate) -> Aggregate:
        for event in self.app.events.get(aggregate.id, gt=aggregate.version):
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        return aggregate

    def _load_from_store(self, cls: type[Aggregate], aggregate_id: UUID) -> Aggregate | None:
        """Long-lived kinds go through the repository (snapshots); short-lived ones (payments,
        keys, bills) are read straight from their events, skipping a snapshot probe that could
        never find anything."""
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
            self._read.clear()

    def merge_into_parent(self) -> None:
        assert self.parent is not None
        self.parent.aggregates.update(self.aggregates)

    def pending(self) -> list[Aggregate]:
        """Aggregates with events to save."""
        return [a for a in self.aggregates.values() if a.pending_events]

    def collect(self) -> Changes:
        """Take the new events out of the aggregates, with the kind of each changed aggregate
        and the versions of those only read."""
        changed = self.pending()
        changes = Changes(
            events=[event for aggregate in changed for event in aggregate.collect_events()],
            kinds={aggregate.id: type(aggregate) for aggregate in changed},
            expected_versions=dict(self._read),
            aggregates=list(self.aggregates.values()),
        )
        changes.finish()
        return changes
