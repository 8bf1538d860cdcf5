"""Applying the log to read models, one batch per transaction, exactly once.

A `Projector` owns one connection to the read-model database and a set of read models, each at
its own tracking position. `step()` reads the next chunk of the log, applies to each model the
events past its position, and advances each model's tracking in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from projections import progress
from projections.batch import Batch
from projections.carry import Carry
from projections.models.base import ReadModel
from projections.tables import LIVE
from projections.tracking import TrackingConflictError, advance, hold, read_positions
from storage.log import Chunk, read_chunk
from storage.sql import Store, Tx

Announce = Callable[[dict[str, int]], None]
OnChange = Callable[[dict[str, int], set[str] | None], None]


def apply_chunk(
    tx: Tx,
    models: Sequence[ReadModel],
    chunk: Chunk,
    prefix: str,
    carry: Carry | None = None,
    touched: set[str] | None = None,
) -> dict[str, int]:
    """Apply the chunk's events to each model (rows only; tracking is the caller's).
    Returns how many events each model applied. A `carry` must be cleared by the caller if
    the transaction does not commit; `touched` gathers the keys the rows written are about."""
    batch = Batch(tx, prefix, carry, touched)
    counts = {}
    for model in models:
        mine = [e for e in chunk.events if e.topic in model.handlers]
        counts[model.name] = len(mine)
        if mine:
            model.prefetch(batch, mine)
            for logged in mine:
                model.apply(batch, logged)
            model.finish(batch)
    batch.flush()
    return counts


class Projector:
    def __init__(
        self,
        app: Application[UUID],
        store: Store,
        models: Sequence[ReadModel],
        *,
        batch_size: int,
        announce: Announce | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        """`announce(positions)` and `on_change(positions, keys)` are called after each
        committed batch (in this process); on PostgreSQL the same news goes out as a NOTIFY."""
        self.app = app
        self.store = store
        self.models = list(models)
        self.batch_size = batch_size
        self.announce = announce
        self.on_change = on_change
        self.topics = frozenset().union(*(m.topics for m in self.models))
        self.connection: Any = store.connect()
        self.positions: dict[str, int] = {}
        self.carry = Carry()
        self.reload()

    def reload(self) -> None:
        self.carry.clear()  # the tables may have changed under us (e.g. a rebuild swapped in)
        with self.store.transaction(self.connection) as tx:
            self.positions = read_positions(tx, [m.name for m in self.models])

    @property
    def position(self) -> int:
        """Every model has applied the log up to here."""
        return min(self.positions.values())

    def step(self) -> Chunk:
        """Apply the next chunk of the log. Returns it (check `.full` for more waiting)."""
        start = self.position
        chunk = read_chunk(self.app, after=start, limit=self.batch_size, topics=self.topics)
        if chunk.last == start:
            return chunk
        behind = [m for m in self.models if self.positions[m.name] == start]
        # Models ahead of the slowest one (e.g. one added later) wait for it to catch up.
        reached = {m.name: chunk.last for m in behind}
        touched: set[str] | None = set() if self.store.postgres or self.on_change else None
        try:
            with self.store.transaction(self.connection) as tx:
                hold(tx, {m.name: start for m in behind})
                counts = apply_chunk(tx, behind, chunk, LIVE, self.carry, touched)
                for model in behind:
                    advance(tx, model.name, start, chunk.last, counts[model.name])
                if self.store.postgres:
                    tx.execute(
                        "SELECT pg_notify(%s, %s)",
                        [self.store.channel, progress.encode(reached, touched)],
                    )
        except TrackingConflictError:
            self.reload()
            raise
        except BaseException:
            self.carry.clear()
            raise
        self.positions.update(reached)
        if self.on_change is not None:
            self.on_change(reached, touched)
        if self.announce is not None:
            self.announce(reached)
        return chunk

    def close(self) -> None:
        self.connection.close()
