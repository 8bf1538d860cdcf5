"""Rebuilding with several processes: the read models are split into groups, and each group is
replayed into its shadow tables by its own process (its own reader, its own connection), up to
one common position. Read models share no tables, so the groups never touch each other's rows;
the parent then catches up and swaps them all in at once (rebuild.py)."""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from projections import models
from projections.models.base import ReadModel
from projections.replay import replay
from storage.sql import Store

# Rough share of the log each read model applies, to balance the groups.
WEIGHT = {
    "payment_history": 4,
    "account_balance": 3,
    "matching": 3,
    "trial_balance": 2,
    "wallet_balance": 1,
}
# Larger batches for the read models whose per-batch work grows with the state a batch
# touches rather than with its events: account_balance re-derives the allocation of every
# bill of every account a batch touched, so four times fewer batches is about half its time;
# matching re-matches every receipt of every account a batch touched, likewise.
# Memory stays bounded (by the batch, not the log): only its own events are decoded.
BATCH_SCALE = {"account_balance": 4, "matching": 4}
REPORT_EVERY = 0.2


def split(chosen: Sequence[ReadModel], workers: int) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in range(min(workers, len(chosen)))]
    load = [0] * len(groups)
    for model in sorted(chosen, key=lambda m: -WEIGHT.get(m.name, 1)):
        lightest = load.index(min(load))
        groups[lightest].append(model.name)
        load[lightest] += WEIGHT.get(model.name, 1)
    return groups


def _worker(
    app_class: type[Application[UUID]],
    env: dict[str, str],
    where: tuple[str, str, str | None],
    names: list[str],
    stop: int,
    batch_size: int,
    index: int,
    updates: Any,
) -> None:
    try:
        app, store = app_class(env), Store(*where)
        connection = store.connect()
        last = [0.0]

        def progress(position: int, _total: int, events: int) -> None:
            if time.monotonic() - last[0] > REPORT_EVERY:
                last[0] = time.monotonic()
                updates.put(("progress", index, position, events))

        tally = replay(
            app,
            store,
            connection,
            models.build(names),
            start=0,
            stop=stop,
            batch_size=batch_size * max(BATCH_SCALE.get(name, 1) for name in names),
            progress=progress,
        )
        connection.close()
        app.close()
        updates.put(("done", index, tally.position, (tally.events, tally.per_model)))
    except BaseException as error:
        updates.put(("error", index, 0, repr(error)))


def replay_in_processes(
    app: Application[UUID],
    store: Store,
    chosen: Sequence[ReadModel],
    *,
    stop: int,
    batch_size: int,
    workers: int,
    progress: Any = None,
) -> tuple[int, dict[str, int]]:
    """Replay (0, stop] into the shadow tables of `chosen` with `workers` processes; returns
    (events applied, summed over groups; per-model counts)."""
    context = multiprocessing.get_context("spawn")
    updates = context.Queue()
    groups = split(chosen, workers)
    where = (store.dialect, store.target, store.schema)
    processes = [
        context.Process(
            target=_worker,
            args=(type(app), dict(app.env), where, group, stop, batch_size, i, updates),
            daemon=True,
        )
        for i, group in enumerate(groups)
    ]
    for process in processes:
        process.start()
    positions, events, done = [0] * len(groups), [0] * len(groups), set[int]()
    per_model: dict[str, int] = {}
    try:
        while len(done) < len(groups):
            try:
                kind, index, position, payload = updates.get(timeout=1.0)
            except queue.Empty:
                dead = [p for i, p in enumerate(processes) if i not in done and not p.is_alive()]
                if dead:
                    raise RuntimeError("a rebuild worker died without reporting") from None
                continue
            if kind == "error":
                raise RuntimeError(f"rebuild worker {groups[index]} failed: {payload}")
            if kind == "progress":
                positions[index], events[index] = position, payload
            else:
                positions[index] = position
                events[index], counts = payload
                per_model.update(counts)
                done.add(index)
            if progress is not None:
                progress(min(positions), stop, sum(events))
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join(10)
    return sum(events), per_model
