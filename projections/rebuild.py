"""Rebuild: replay the whole log into fresh (shadow) tables, in batches, then swap them in.

The shadow tables (`rb_*`) are filled with one transaction per batch while a reader thread
fetches the next batch (projections/replay.py); secondary indexes are built once at the end.
The swap drops the live tables, renames the shadows and sets the tracking positions, all in one
transaction, so readers see either the old or the new read models, and a runner that was
following the old tables finds its tracking moved and resumes from the rebuilt position.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application

from projections import models, stuck
from projections.errors import ProjectionBusyError
from projections.models.base import ReadModel
from projections.parallel import replay_in_processes
from projections.progress import encode as progress_message
from projections.replay import Progress, Tally, replay
from projections.schema import (
    create_indexes,
    create_table,
    drop_tables,
    migrate_store,
    set_logged,
    swap_in,
)
from projections.tables import SHADOW, TRACKING, Table
from projections.tracking import reset
from storage.log import head
from storage.sql import Store, lock_key

__all__ = ["Progress", "RebuildReport", "rebuild"]


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


def rebuild(
    app: Application[UUID],
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
        _fresh_shadow_tables(store, connection, tables)
        if workers > 1 and store.postgres:
            tally = _replay_in_processes(
                app, store, connection, chosen, stop, batch_size, workers, progress
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
        _index_shadow_tables(store, connection, tables, logged=swap)
        if swap:
            _swap_in(store, connection, chosen, tables, tally)
    finally:
        connection.close()
        if guard is not None:
            guard.close()
    seconds = time.perf_counter() - started
    return RebuildReport(tally.events, tally.position, seconds, swap, tally.per_model)


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


def _fresh_shadow_tables(store: Store, connection: Any, tables: list[Table]) -> None:
    """Empty shadow tables, unlogged and without secondary indexes while they fill."""
    with store.transaction(connection) as tx:
        drop_tables(tx, SHADOW, tables)
        for table in tables:
            create_table(tx, SHADOW, table, with_indexes=False, unlogged=True)


def _replay_in_processes(
    app: Application[UUID],
    store: Store,
    connection: Any,
    chosen: Sequence[ReadModel],
    stop: int | None,
    batch_size: int,
    workers: int,
    progress: Progress | None,
) -> Tally:
    """The log up to `stop` (default: the head now) by groups of read models in `workers`
    processes; then, without a `stop`, what arrived meanwhile, in this process."""
    target = stop if stop is not None else head(app)
    events, per_model = replay_in_processes(
        app, store, chosen, stop=target, batch_size=batch_size, workers=workers, progress=progress
    )
    tally = Tally(target, events, per_model)
    if stop is not None:
        return tally
    return replay(
        app, store, connection, chosen, start=target, stop=None, batch_size=batch_size, tally=tally
    )


def _index_shadow_tables(
    store: Store, connection: Any, tables: list[Table], *, logged: bool
) -> None:
    """PostgreSQL: the secondary indexes, built once; `logged` makes the tables crash-safe,
    like the live tables they are to replace."""
    if not store.postgres:
        return
    with store.transaction(connection) as tx:
        for table in tables:
            create_indexes(tx, SHADOW, table)
        if logged:
            set_logged(tx, SHADOW, tables)


def _swap_in(
    store: Store,
    connection: Any,
    chosen: Sequence[ReadModel],
    tables: list[Table],
    tally: Tally,
) -> None:
    """Make the shadow tables the live ones and move the tracking to the rebuilt position."""
    with store.transaction(connection) as tx:
        if store.postgres:
            # Serialise with the runners: they lock these rows first in each batch, in the
            # same (name) order.
            for name in sorted(m.name for m in chosen):
                tx.execute(
                    f"SELECT position FROM {store.name(TRACKING)} WHERE projection = %s FOR UPDATE",
                    [name],
                )
        swap_in(tx, tables)
        for model in chosen:
            reset(tx, model.name, tally.position, tally.per_model[model.name])
            stuck.clear(tx, model.name)  # replayed past every event: not stuck any more
        if store.postgres:  # the API processes' caches start over from the new tables
            swapped = {m.name: tally.position for m in chosen}
            tx.execute("SELECT pg_notify(%s, %s)", [store.channel, progress_message(swapped, None)])
