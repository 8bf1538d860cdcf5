"""Rebuild: replay the whole log into fresh (shadow) tables, in batches, then swap them in.

The shadow tables (`rb_*`) are filled with one transaction per batch while a reader thread
fetches the next batch; secondary indexes are built once at the end. The swap drops the live
tables, renames the shadows and sets the tracking positions, all in one transaction, so
readers see either the old or the new read models, and a runner that was following the old
tables finds its tracking moved and resumes from the rebuilt position.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.application import Application

from projections import models
from projections.carry import Carry
from projections.errors import ProjectionBusyError
from projections.models.base import ReadModel
from projections.parallel import replay_in_processes
from projections.progress import encode as progress_message
from projections.projector import apply_chunk
from projections.schema import (
    create_indexes,
    create_table,
    drop_tables,
    lock_key,
    migrate_store,
    set_logged,
    swap_in,
)
from projections.tables import SHADOW, TRACKING
from projections.tracking import reset
from storage.log import Chunk, head, read_chunk
from storage.sql import Store

Progress = Callable[[int, int, int], None]
"""(position reached, head, events read) after each batch."""


@dataclass
class Tally:
    position: int
    events: int
    """Distinct events applied (an event several read models use counts once)."""
    per_model: dict[str, int]


@dataclass(frozen=True)
class RebuildReport:
    events: int
    position: int
    seconds: float
    swapped: bool
    per_model: dict[str, int]

    @property
    def rate(self) -> float:
        """Log positions replayed per second (every event of the log, wanted or not)."""
        return self.position / self.seconds if self.seconds > 0 else 0.0


def _read_ahead(
    app: Application,
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
    app: Application,
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
    while (item := chunks.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        with store.transaction(connection) as tx:
            counts = apply_chunk(tx, chosen, item, SHADOW, carry)
        tally.position, tally.events = item.last, tally.events + item.count
        for name, count in counts.items():
            tally.per_model[name] += count
        if progress is not None:
            progress(tally.position, max(target, tally.position), tally.events)
    reader.join()
    return tally


def _one_rebuild_at_a_time(store: Store) -> Any:
    """PostgreSQL: a session lock held for the whole rebuild (the shadow tables are ours)."""
    if not store.postgres:
        return None  # SQLite: one embedded database, one operator
    guard = psycopg.connect(store.target, autocommit=True, connect_timeout=5)
    row = guard.execute(
        "SELECT pg_try_advisory_lock(%s)", [lock_key("kvit-rebuild", store.schema or "public")]
    ).fetchone()
    if not (row and row[0]):
        guard.close()
        raise ProjectionBusyError("another rebuild of these read models is running; try later")
    return guard


def rebuild(
    app: Application,
    store: Store,
    *,
    names: Sequence[str] | None = None,
    stop: int | None = None,
    swap: bool = True,
    batch_size: int = 5000,
    progress: Progress | None = None,
    workers: int = 1,
) -> RebuildReport:
    """Replay the log (up to `stop`, default: all of it) into fresh shadow tables; with `swap`,
    make them the live read models. On PostgreSQL, `workers` > 1 replays groups of read models
    in that many processes."""
    chosen = models.build(list(names) if names else None)
    tables = [table for model in chosen for table in model.tables]
    started = time.perf_counter()
    migrate_store(store, chosen)  # the live tables and tracking rows the swap replaces
    guard = _one_rebuild_at_a_time(store)
    connection = store.connect()
    try:
        with store.transaction(connection) as tx:
            drop_tables(tx, SHADOW, tables)
            for table in tables:
                create_table(tx, SHADOW, table, with_indexes=False, unlogged=True)
        if workers > 1 and store.postgres:
            target = stop if stop is not None else head(app)
            events, per_model = replay_in_processes(
                app,
                store,
                chosen,
                stop=target,
                batch_size=batch_size,
                workers=workers,
                progress=progress,
            )
            tally = Tally(target, events, per_model)
            if stop is None:  # what arrived meanwhile
                tally = replay(
                    app,
                    store,
                    connection,
                    chosen,
                    start=target,
                    stop=None,
                    batch_size=batch_size,
                    tally=tally,
                )
        else:
            tally = replay(
                app,
                store,
                connection,
                chosen,
                start=0,
                stop=stop,
                batch_size=batch_size,
                progress=progress,
            )
        with store.transaction(connection) as tx:
            if store.postgres:
                for table in tables:
                    create_indexes(tx, SHADOW, table)
                if swap:  # crash-safe from here on, like the live tables it replaces
                    set_logged(tx, SHADOW, tables)
        if swap:
            with store.transaction(connection) as tx:
                if store.postgres:
                    # Serialise with the runners: they lock these rows first in each batch,
                    # in the same (name) order.
                    for name in sorted(m.name for m in chosen):
                        tx.execute(
                            f"SELECT position FROM {store.name(TRACKING)}"
                            " WHERE projection = %s FOR UPDATE",
                            [name],
                        )
                swap_in(tx, tables)
                for model in chosen:
                    reset(tx, model.name, tally.position, tally.per_model[model.name])
                if store.postgres:  # the API processes' caches start over from the new tables
                    swapped = {m.name: tally.position for m in chosen}
                    tx.execute(
                        "SELECT pg_notify(%s, %s)", [store.channel, progress_message(swapped, None)]
                    )
    finally:
        connection.close()
        if guard is not None:
            guard.close()
    seconds = time.perf_counter() - started
    return RebuildReport(tally.events, tally.position, seconds, swap, tally.per_model)
