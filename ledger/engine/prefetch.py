"""Loading many short-lived aggregates (idempotency records, payments) in one query.

A batch re-run would otherwise read each command's idempotency record with its own round trip;
a register of thousands of commands then costs thousands of round trips. The stored events of
all of them come back from one `originator_id = ANY(...)` query instead (PostgreSQL; SQLite in
chunks of one `IN (...)`; anything else one read per id).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from ledger.engine.unit_of_work import UnitOfWork
from storage.event_store import events_by_aggregate


def prefetch(uow: UnitOfWork, ids: Iterable[UUID | None]) -> None:
    """Seed the unit of work with these aggregates as stored now (or None: not there)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return
    aggregates: dict[UUID, Any] = dict.fromkeys(wanted)
    for event in events_by_aggregate(uow.app.events, wanted):
        aggregates[event.originator_id] = event.mutate(aggregates[event.originator_id])
    for aggregate_id, aggregate in aggregates.items():
        uow.seed(aggregate_id, aggregate)
