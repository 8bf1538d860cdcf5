"""Unit of work: the aggregates one command reads and changes, saved in one transaction.

A command is a function `(uow) -> result`. It loads aggregates through the unit of work and
adds the ones it creates; whoever runs it saves the unit's new events in one `save()`.

A child unit of work runs one command inside a serialised group commit or a batch (see
`group_commit.py`, `batch.py`): it works on its parent's aggregates, including their pending
events, in place (copying each for every command was a fifth of a batch's time), and a command
that raises is rolled back (`roll_back`), so it leaves the parent exactly as it was.

Loads go through the process's aggregate cache (`aggregate_cache.py`). A unit that trusts the
cache takes a copy as it is, with no round trip, and records the version it read; the save then
proves those versions current (`Changes.expected_versions`). A unit that does not trust it
(plain reads, re-runs after a conflict) fast-forwards the copy from the store first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, Recording

from ledger.domain.idempotency import IdempotencyRecord
from ledger.engine.aggregate_cache import AggregateCache, clone
from storage.event_store import server_generation, set_pending_events

A = TypeVar("A", bound=Aggregate)
Command = Callable[["UnitOfWork"], Any]


class CachedApplication(Protocol):
    """What the engine runs commands on (the Ledger): an event-sourced application with this
    process's cache of committed aggregates."""

    @property
    def events(self) -> EventStore[UUID]: ...

    @property
    def repository(self) -> Repository[UUID]: ...

    @property
    def snapshotting_intervals(self) -> Mapping[type[Any], int]: ...

    @property
    def aggregate_cache(self) -> AggregateCache: ...

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]: ...

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None) -> None: ...


@dataclass
class Changes:
    """What a unit of work will save: its new events, and what must still hold at commit."""

    events: list[Any] = field(default_factory=list)
    kinds: dict[UUID, type[Aggregate]] = field(default_factory=dict)
    expected_versions: dict[UUID, int] = field(default_factory=dict)
    """Aggregates read but not written, at the version read: the save checks them."""
    aggregates: list[Aggregate] = field(default_factory=list)
    """Every aggregate of the unit: committed state once the save succeeds (for the cache)."""
    server_generation: int | None = None
    """The database server the unit read from (storage/server_watch.py): the save fails like
    a conflict if the server has changed since."""

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
        # Read on the earliest server of the two: the save checks that one.
        generations = [
            g for g in (self.server_generation, other.server_generation) if g is not None
        ]
        self.server_generation = min(generations) if generations else None

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


def _inherit(value: bool | None, inherited: bool | None) -> bool:
    return bool(inherited) if value is None else value


class UnitOfWork:
    def __init__(
        self,
        app: CachedApplication,
        parent: UnitOfWork | None = None,
        *,
        optimistic: bool | None = None,
        trust_cache: bool | None = None,
    ) -> None:
        """`optimistic` and `trust_cache` default to the parent's (False without a parent)."""
        self.app = app
        self.parent = parent
        self.optimistic: bool = _inherit(optimistic, parent.optimistic if parent else None)
        """First attempt: assume idempotency keys are new and let the store say otherwise."""
        self.trust_cache: bool = _inherit(trust_cache, parent.trust_cache if parent else None)
        self.trusted_ids: set[UUID] = set()
        """What this unit took from the cache unchecked (the save must prove it)."""
        self.aggregates: dict[UUID, Aggregate] = {}
        # Shared by a batch: aggregates loaded but not (yet) touched, which of them came from
        # the cache unchecked, and the versions read.
        self._loaded: dict[UUID, Aggregate | None] = {} if parent is None else parent._loaded
        self._trusted: set[UUID] = set() if parent is None else parent._trusted
        self._read: dict[UUID, int] = {} if parent is None else parent._read
        self._borrowed: dict[UUID, int] = {}  # parent's aggregates used, with pending counts
        self.cache: AggregateCache = app.aggregate_cache
        self.server_generation: int | None = (
            server_generation(app.events) if parent is None else parent.server_generation
        )
        """The database server this unit reads from (its save fails if that changes)."""

    @property
    def trusted(self) -> bool:
        return bool(self.trusted_ids)

    def seed(self, aggregate_id: UUID, aggregate: Aggregate | None) -> None:
        """Prefetched from the store (batch re-runs): later lookups need no round trip."""
        self._loaded[aggregate_id] = aggregate
        if aggregate is not None:
            self._read[aggregate_id] = aggregate.version

    def pending_in_batch(self, aggregate_id: UUID) -> bool:
        """Whether this unit or its parent has already created or changed the aggregate."""
        return aggregate_id in self.aggregates or (
            self.parent is not None and aggregate_id in self.parent.aggregates
        )

    def forget(self, aggregate_ids: set[UUID]) -> None:
        """Drop untouched copies, so the next lookup reads them again."""
        for aggregate_id in aggregate_ids:
            self._loaded.pop(aggregate_id, None)
            self._trusted.discard(aggregate_id)

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate with this id, or None if it does not exist (or is of another kind)."""
        aggregate = self._lookup(cls, aggregate_id)
        return aggregate if isinstance(aggregate, cls) else None

    def _lookup(self, cls: type[Aggregate], aggregate_id: UUID) -> Aggregate | None:
        if aggregate_id in self.aggregates:
            return self.aggregates[aggregate_id]
        if self.parent is not None and aggregate_id in self.parent.aggregates:
            # Borrowed, not copied: `roll_back` undoes what this unit added to it.
            found: Aggregate | None = self.parent.aggregates[aggregate_id]
            assert found is not None
            self._borrowed.setdefault(aggregate_id, len(found.pending_events))
        else:
            if aggregate_id not in self._loaded:
                self._loaded[aggregate_id] = self._load(cls, aggregate_id)
            pristine = self._loaded[aggregate_id]
            found = clone(pristine) if self.parent is not None and pristine else pristine
        if found is not None:
            self.aggregates[aggregate_id] = found
            if aggregate_id in self._trusted:
                self.trusted_ids.add(aggregate_id)
        return found

    def _load(self, cls: type[Aggregate], aggregate_id: UUID) -> Aggregate | None:
        cacheable = cls is not IdempotencyRecord  # keys: read once
        cached = self.cache.get(aggregate_id) if cacheable else None
        if cached is not None and self.trust_cache and self.cache.trusted(aggregate_id):
            self._trusted.add(aggregate_id)
            self._read[aggregate_id] = cached.version
            return cached
        aggregate = (
            self._fast_forward(cached)
            if cached is not None
            else self._load_from_store(cls, aggregate_id)
        )
        if aggregate is not None:
            self._read[aggregate_id] = aggregate.version
            if cacheable:
                self.cache.offer(clone(aggregate))
        return aggregate

    def _fast_forward(self, aggregate: Aggregate) -> Aggregate:
        for event in self.app.events.get(aggregate.id, gt=aggregate.version):
            aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
        return aggregate

    def _load_from_store(self, cls: type[Aggregate], aggregate_id: UUID) -> Aggregate | None:
        """Long-lived kinds go through the repository (snapshots); short-lived ones (payments,
        keys, bills) are read straight from their events, skipping a snapshot probe that could
        never find anything."""
        if cls in self.app.snapshotting_intervals:
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

    def roll_back(self) -> None:
        """After the command raised: put the parent's aggregates back as they were, rebuilt
        from their pristine copy and the events pending before this unit borrowed them."""
        assert self.parent is not None
        for aggregate_id, count in self._borrowed.items():
            current = self.parent.aggregates[aggregate_id]
            if len(current.pending_events) == count:
                continue
            kept = list(current.pending_events[:count])
            pristine = self._loaded.get(aggregate_id)
            rebuilt: Any = clone(pristine) if pristine is not None else None
            for event in kept:
                rebuilt = event.mutate(rebuilt)
            if rebuilt is None:  # created by this very unit: it never existed
                del self.parent.aggregates[aggregate_id]
                continue
            set_pending_events(rebuilt, kept)
            self.parent.aggregates[aggregate_id] = rebuilt
        self._borrowed.clear()
        self.aggregates.clear()

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
            server_generation=self.server_generation,
        )
        changes.finish()
        return changes
