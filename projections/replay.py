"""Replaying the log into the shadow tables of some read models, in one process: a reader thread
fetches the next chunk of the log while this thread applies the current one, one transaction
per chunk. Used by a rebuild (projections/rebuild.py), by each of its worker processes
(projections/parallel.py) and by the auditor's shadow rebuild (projections/shadow.py).

Nobody reads the shadow tables before the replay ends, so what a model derives from the final
state of a key (an account's matching and bill allocation) is derived once per key at the end
instead of once per chunk (`ReadModel.touched`): the same rows, without going over an
account's whole history again in every chunk."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application

from projections.carry import Carry
from projections.models.base import ReadModel
from projections.projector import apply_chunk
from projections.staged import StagedRows
from projections.tables import SHADOW
from storage.log import Chunk, head, read_chunk
from storage.sql import Store

FINISH_SLICE = 2000
"""Keys per transaction when the deferred work is done at the end."""
Progress = Callable[[int, int, int], None]
"""(position reached, head, events read) after each batch."""


@dataclass
class Tally:
    position: int
    events: int
    """Distinct events applied (an event several read models use counts once)."""
    per_model: dict[str, int]


def _read_ahead(
    app: Application[UUID],
    topics: frozenset[str],
    start: int,
    stop: int | None,
    batch_size: int,
    out: queue.Queue[Chunk | BaseException | None],
) -> None:
    """Producer thread: chunks of the log in order, then None."""
    try:
        position = start
        while True:
            chunk = read_chunk(app, after=position, limit=batch_size, topics=topics, stop=stop)
            if chunk.last > position:
                out.put(chunk)
            position = chunk.last
            if not chunk.full:
                out.put(None)
                return
    except BaseException as error:
        out.put(error)


def replay(
    app: Application[UUID],
    store: Store,
    connection: object,
    chosen: Sequence[ReadModel],
    *,
    start: int,
    stop: int | None,
    batch_size: int,
    progress: Progress | None = None,
    tally: Tally | None = None,
) -> Tally:
    """Apply the log after `start` (up to `stop`) to the shadow tables."""
    topics = frozenset().union(*(m.topics for m in chosen))
    chunks: queue.Queue[Chunk | BaseException | None] = queue.Queue(maxsize=3)
    reader = threading.Thread(
        target=_read_ahead, args=(app, topics, start, stop, batch_size, chunks), daemon=True
    )
    reader.start()
    carry = Carry()  # the shadow tables are ours alone; a failed batch ends the replay
    tally = tally or Tally(start, 0, dict.fromkeys((m.name for m in chosen), 0))
    target = stop or head(app)
    deferred: dict[str, set[str]] = {}
    while (item := chunks.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        with store.transaction(connection) as tx:
            counts = apply_chunk(tx, chosen, item, SHADOW, carry, deferred=deferred)
        tally.position, tally.events = item.last, tally.events + item.count
        for name, count in counts.items():
            tally.per_model[name] += count
        if progress is not None:
            progress(tally.position, max(target, tally.position), tally.events)
    reader.join()
    _finish_deferred(store, connection, chosen, deferred, carry)
    return tally


def _finish_deferred(
    store: Store,
    connection: object,
    chosen: Sequence[ReadModel],
    deferred: dict[str, set[str]],
    carry: Carry,
) -> None:
    """What the models' `finish` derives, once per key for the whole replay rather than once
    per chunk that touched it (an account's matching goes over all its history each time),
    a slice of keys per transaction."""
    for model in chosen:
        keys = sorted(deferred.get(model.name, ()))
        for at in range(0, len(keys), FINISH_SLICE):
            with store.transaction(connection) as tx:
                staged = StagedRows(tx, SHADOW, carry)
                model.refinish(staged, keys[at : at + FINISH_SLICE])
                staged.flush()
