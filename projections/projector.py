"""Applying the log to read models, one chunk per transaction, exactly once.

A `Projector` owns one connection to the read-model database and a set of read models, each at
its own tracking position. `step()` reads the next chunk of the log, applies to each model the
events past its position, and advances each model's tracking in the same transaction.

A chunk that fails for a reason other than the connection is retried model by model, then in
halves, down to the one event a model cannot apply: that model stops just before it and is
reported stuck (projections/stuck.py), the others go on. A new projector (a restarted runner)
tries a stuck model again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from projections import progress
from projections import stuck as stuck_models
from projections.carry import Carry
from projections.models.base import ReadModel
from projections.staged import StagedRows
from projections.stuck import Stuck, printable
from projections.tables import LIVE
from projections.tracking import TrackingConflictError, advance, hold, read_positions
from storage.log import Chunk, Logged, read_chunk
from storage.sql import Store, Tx, missing_table, transient

log = logging.getLogger(__name__)
Announce = Callable[[dict[str, int]], None]
OnChange = Callable[[dict[str, int], set[str] | None], None]


def apply_chunk(
    tx: Tx,
    models: Sequence[ReadModel],
    chunk: Chunk,
    prefix: str,
    carry: Carry | None = None,
    touched: set[str] | None = None,
    deferred: dict[str, set[str]] | None = None,
) -> dict[str, int]:
    """Apply the chunk's events to each model (rows only; tracking is the caller's).
    Returns how many events each model applied. A `carry` must be cleared by the caller if
    the transaction does not commit; `touched` gathers the keys the rows written are about.
    With `deferred` (a rebuild), models that can (`ReadModel.touched`) leave what their
    `finish` derives to the end, and add the keys it is about to `deferred[model.name]`."""
    staged = StagedRows(tx, prefix, carry, touched)
    counts = {}
    for model in models:
        mine = [e for e in chunk.events if e.topic in model.handlers]
        counts[model.name] = len(mine)
        if mine:
            model.prefetch(staged, mine)
            for logged in mine:
                model.apply(staged, logged)
            if deferred is not None and model.touched is not None:
                later = staged.scratch.pop(model.touched, ())
                deferred.setdefault(model.name, set()).update(later)
            model.finish(staged)
    staged.flush()
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
        connection: Any = None,
    ) -> None:
        """`announce(positions)` and `on_change(positions, keys)` are called after each
        committed batch (in this process); on PostgreSQL the same news goes out as a NOTIFY.
        A `connection` lent by the caller (projectors that take turns on one thread) stays
        open on `close()`."""
        self.app = app
        self.store = store
        self.models = list(models)
        self.batch_size = batch_size
        self.announce = announce
        self.on_change = on_change
        self._lent = connection is not None
        self.connection: Any = connection if self._lent else store.connect()
        self.positions: dict[str, int] = {}
        self.stuck: dict[str, Stuck] = {}
        """The models this projector found stuck; it no longer applies them."""
        self._recorded: dict[str, int] = {}
        """Stuck rows found at start, by model: the event each could not apply."""
        self.carry = Carry()
        self.reload()

    def reload(self) -> None:
        self.carry.clear()  # the tables may have changed under us (e.g. a rebuild swapped in)
        with self.store.transaction(self.connection) as tx:
            self.positions = read_positions(tx, [m.name for m in self.models])
            recorded = stuck_models.read_stuck(tx)
        self._recorded = {n: s.event for n, s in recorded.items() if n in self.positions}

    @property
    def active(self) -> list[ReadModel]:
        return [m for m in self.models if m.name not in self.stuck]

    @property
    def position(self) -> int:
        """Every model that is not stuck has applied the log up to here."""
        active = [self.positions[m.name] for m in self.active]
        return min(active, default=max(self.positions.values(), default=0))

    def step(self) -> Chunk:
        """Apply the next chunk of the log. Returns it (check `.full` for more waiting)."""
        active = self.active
        start = self.position
        if not active:
            return Chunk([], start, 0, False)
        topics = frozenset().union(*(m.topics for m in active))
        chunk = read_chunk(self.app, after=start, limit=self.batch_size, topics=topics)
        if chunk.last == start:
            return chunk
        # Models ahead of the slowest one (e.g. one added later) wait for it to catch up.
        behind = [m for m in active if self.positions[m.name] == start]
        try:
            self._commit(behind, chunk.events, start, chunk.last)
        except Exception as error:
            if isinstance(error, TrackingConflictError) or transient(error):
                raise
            for model in behind:  # which model, and which event?
                self._apply_alone(model, chunk, start)
        return chunk

    def _commit(
        self, models: Sequence[ReadModel], events: list[Logged], start: int, last: int
    ) -> None:
        """Apply `events` (positions start < p <= last) to `models` in one transaction, and
        move their tracking to `last`."""
        reached = {m.name: last for m in models}
        touched: set[str] | None = set() if self.store.postgres or self.on_change else None
        chunk = Chunk(events, last, len(events), False)
        unstuck = [m.name for m in models if self._recorded.get(m.name, last + 1) <= last]
        try:
            with self.store.transaction(self.connection) as tx:
                hold(tx, {m.name: start for m in models})
                counts = apply_chunk(tx, models, chunk, LIVE, self.carry, touched)
                advance(tx, {m.name: (start, last, counts[m.name]) for m in models})
                for name in unstuck:
                    stuck_models.clear(tx, name)
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
        for name in unstuck:
            log.warning("read model %s is no longer stuck: it applied event %s", name, last)
            del self._recorded[name]
        if self.on_change is not None:
            self.on_change(reached, touched)
        if self.announce is not None:
            self.announce(reached)

    def _apply_alone(self, model: ReadModel, chunk: Chunk, start: int) -> None:
        """Apply the chunk to `model` alone, in halves when a part fails, down to the one
        event it cannot apply: then it stops just before that event."""
        pending = [e for e in chunk.events if e.topic in model.handlers]
        position = start
        while pending:
            size = len(pending)
            while True:
                part = pending[:size]
                try:
                    self._commit([model], part, position, part[-1].position)
                    break
                except Exception as error:
                    if isinstance(error, TrackingConflictError) or transient(error):
                        raise
                    if size == 1:
                        self._stop(model, position, part[0], error)
                        return
                    size = (size + 1) // 2
            position = part[-1].position
            pending = pending[size:]
        if position < chunk.last:
            self._commit([model], [], position, chunk.last)

    def _stop(self, model: ReadModel, position: int, event: Logged, error: Exception) -> None:
        """`model` cannot apply `event`: move it up to just before the event (none of its own
        lie between), record it stuck, and say so."""
        before = event.position - 1
        if position < before:
            self._commit([model], [], position, before)
        stuck = Stuck(
            projection=model.name,
            position=before,
            event=event.position,
            topic=event.topic,
            originator_id=event.originator_id,
            error=type(error).__name__,
            detail=printable(str(error)),
        )
        self.stuck[model.name] = stuck
        log.error(
            "read model %s is stuck at position %s: it cannot apply event %s (%s, originator"
            " %s): %s: %s; it stays before that event until a version that can apply it is"
            " started, and the other read models go on",
            model.name,
            before,
            event.position,
            event.topic,
            event.originator_id,
            stuck.error,
            stuck.detail,
        )
        try:
            with self.store.transaction(self.connection) as tx:
                stuck_models.record(tx, stuck)
        except Exception as failure:
            if not missing_table(failure):
                raise
            log.warning("no %s table to report it in: run `kvit migrate`", stuck_models.STUCK)
            return
        self._recorded[model.name] = event.position

    def close(self) -> None:
        if not self._lent:
            self.connection.close()
