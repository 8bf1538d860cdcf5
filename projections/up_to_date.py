"""Bringing every read model up to the log's head once, from a one-off command (`kvit demo`),
beside whatever `kvit project` runner may already be keeping them.

On PostgreSQL a runner holds an advisory lock per read model and is its one writer; a command
that applied batches beside it would race it, and its compare-and-set tracking would refuse the
loser. So the command asks for the same locks without waiting: the read models nobody holds it
brings up to date itself, holding their locks (a runner that starts meanwhile stands by); the
ones a runner holds it leaves to that runner and waits, bounded, until their tracking reaches
the head it saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import Application

from projections import models
from projections.errors import ReadModelTimeoutError
from projections.locks import take_free
from projections.projector import Projector
from projections.tracking import read_positions
from storage.log import head
from storage.sql import Store

POLL_SECONDS = 0.2


def bring_up_to_date(
    app: Application[UUID],
    store: Store,
    *,
    batch_size: int,
    timeout: float,
    say: Callable[[str], None],
) -> int:
    """Every read model has applied the log up to its head as this began; returns that head.
    Raises `ReadModelTimeoutError` if a runner's read models do not get there in `timeout`."""
    target = head(app)
    names = list(models.NAMES)
    lock, mine = take_free(store, names) if store.postgres else (None, names)
    try:
        if mine:
            projector = Projector(app, store, models.build(mine), batch_size=batch_size)
            try:
                while projector.step().full:
                    pass
            finally:
                projector.close()
        theirs = [name for name in names if name not in mine]
        if theirs:
            say(
                f"read models: {', '.join(theirs)} are kept by a running `kvit project`;"
                f" waiting for it to reach position {target}"
            )
            wait_for(store, theirs, target, timeout)
    finally:
        if lock is not None:
            lock.close()
    return target


def wait_for(store: Store, names: list[str], position: int, timeout: float) -> None:
    """Return once every named read model's tracking is at `position` or past it."""
    deadline = time.monotonic() + timeout
    while True:
        with store.read() as tx:
            reached = read_positions(tx, names)
        if min(reached.values()) >= position:
            return
        if time.monotonic() >= deadline:
            behind = ", ".join(f"{n} at {p}" for n, p in reached.items() if p < position)
            raise ReadModelTimeoutError(
                f"read models did not reach position {position} within {timeout:g}s ({behind});"
                " is `kvit project` running? `kvit projections status` shows how far they are",
                position=position,
                reached=reached,
            )
        time.sleep(POLL_SECONDS)
