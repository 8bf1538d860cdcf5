"""Loading many aggregates in one query: a batch's idempotency records and payments, and the
accounts, bills and suppliers a register's lines name.

A batch re-run would otherwise read each command's idempotency record with its own round trip;
a register of thousands of commands then costs thousands of round trips. The stored events of
all of them come back from one `originator_id = ANY(...)` query instead (PostgreSQL; SQLite in
chunks of one `IN (...)`; anything else one read per id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.idempotency import IdempotencyRecord
from ledger.engine.unit_of_work import CachedApplication, UnitOfWork
from storage.event_store import events_by_aggregate, moved_since, server_generation


def prefetch(uow: UnitOfWork, ids: Iterable[UUID | None]) -> None:
    """Seed the unit of work with these aggregates as stored now (or None: not there)."""
    for aggregate_id, aggregate in from_store(uow.app, ids).items():
        uow.seed(aggregate_id, aggregate)


def from_store(app: CachedApplication, ids: Iterable[UUID | None]) -> dict[UUID, Any]:
    """These aggregates as stored now, each a fresh object (None: not there); one query."""
    wanted = sorted({i for i in ids if i is not None})
    aggregates: dict[UUID, Any] = dict.fromkeys(wanted)
    if wanted:
        for event in events_by_aggregate(app.events, wanted):
            aggregates[event.originator_id] = event.mutate(aggregates[event.originator_id])
    return aggregates


@dataclass
class ReadOnly:
    """Aggregates read for deciding, never changed: the cache's own committed copies where it
    is trusted (no copy, no round trip), the rest from the store in one query per `load`.
    `versions` is what a save must prove still current (`Changes.expected_versions`)."""

    app: CachedApplication
    trust_cache: bool
    found: dict[UUID, Aggregate | None] = field(default_factory=dict)
    versions: dict[UUID, int] = field(default_factory=dict)
    trusted: set[UUID] = field(default_factory=set)
    """What came from the cache unchecked: only a save proves it."""
    server_generation: int | None = None
    """The database server read from (storage/server_watch.py): a save checks it is the same."""

    def __post_init__(self) -> None:
        self.server_generation = server_generation(self.app.events)

    def load(self, ids: Iterable[UUID | None]) -> None:
        """Make these available to `get`: one query for every one not cached (or known)."""
        cache = self.app.aggregate_cache
        missing = []
        for aggregate_id in {i for i in ids if i is not None and i not in self.found}:
            cached = (
                cache.peek(aggregate_id)
                if self.trust_cache and cache.trusted(aggregate_id)
                else None
            )
            if cached is None:
                missing.append(aggregate_id)
                continue
            self.found[aggregate_id] = cached
            self.versions[aggregate_id] = cached.version
            self.trusted.add(aggregate_id)
        for aggregate_id, aggregate in from_store(self.app, missing).items():
            self.found[aggregate_id] = aggregate
            if aggregate is None:
                continue
            self.versions[aggregate_id] = aggregate.version
            if not isinstance(aggregate, IdempotencyRecord):
                cache.offer(aggregate)  # committed, and never changed here

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        """A loaded aggregate (None: not there); one not loaded yet is loaded alone."""
        if aggregate_id not in self.found:
            self.load([aggregate_id])
        return self.found[aggregate_id]

    def moved(self, ids: Iterable[UUID]) -> set[UUID]:
        """Which of these (read from the cache unchecked) have moved on in the store since:
        the proof a batch that saves nothing still owes for what its answers rest on."""
        return moved_since(self.app.events, {i: self.versions[i] for i in ids})
