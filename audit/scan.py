"""Reading the log beside its chain and stored tree, batch by batch, in one snapshot.

`kvit audit verify` reads the events, the chain rows of the same positions and the stored
leaf hashes of the same leaves inside one read-only transaction of the audit store (on the
log's own database), so a follower appending meanwhile cannot make a row look missing. The
chain and the leaves come as columns (a few values per batch, not an object per row).

A batch is a range of positions, (after, after + size], bounded on both sides: a read open at
the top was planned, with the table's statistics stale (as after a bulk load), as a scan and
sort of the whole rest of the log for every batch. Only the last batch is open, to take the
chain rows beyond the log's end (its newest events deleted).

A thread reads the next batches while the caller hashes this one: the database works on one
core while Python hashes on the other. Both share the transaction's connection under a lock.
(Worker processes, each hashing whole batches read in an exported snapshot, were tried and
measured: on this 2-core machine they used a third more CPU for no gain in time, since Python
and PostgreSQL already keep both cores busy.)
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from uuid import UUID

from eventsourcing.application import Application

from audit.store import AuditStore, ChainBlock, ChainRow
from storage.log import StoredRow, head_in, scan_stored
from storage.sql import Tx

AHEAD = 2
"""Batches read ahead of the hashing."""
NO_CHAIN = ChainBlock([], [], b"", b"", b"")


@dataclass(frozen=True, slots=True)
class Batch:
    after: int
    stop: int | None
    """Positions (after, stop]; None for the last batch, which takes every chain row left."""
    first_leaf: int
    """Leaf index of the batch's first event: every event before it is a leaf."""
    events: list[StoredRow]
    chain: ChainBlock
    stored_leaves: bytes
    """The stored tree's leaf hashes from `first_leaf`, one per event at most."""


def read_batch(
    app: Application[UUID],
    store: AuditStore | None,
    tx: Tx,
    *,
    after: int,
    stop: int | None,
    first_leaf: int,
    size: int,
) -> Batch:
    """The events of positions (after, stop] (`stop` None: the rest, at most `size` of them)
    with their chain rows and stored leaves (`store` None: the audit tables do not exist)."""
    limit = size if stop is None else stop - after
    events = scan_stored(app, tx, after=after, limit=limit, stop=stop)
    if store is None:
        return Batch(after, stop, first_leaf, events, NO_CHAIN, b"")
    chain = store.chain_block(tx, after=after, stop=stop)
    stored = store.stored_leaves(tx, first_leaf, first_leaf + len(events))
    return Batch(after, stop, first_leaf, events, chain, stored)


class Scan:
    """The batches of a log, in order, read ahead; `chain_rows` and `positions_of_hash` read
    in the same snapshot (for the walk one by one)."""

    def __init__(
        self,
        app: Application[UUID],
        store: AuditStore,
        tx: Tx,
        size: int,
        *,
        kept: bool,
    ) -> None:
        """`kept`: the audit tables exist (else the log is read alone)."""
        self.app, self.store, self.tx, self.size, self.kept = app, store, tx, size, kept
        self.head = head_in(app, tx)
        self._lock = threading.Lock()
        self._ready: queue.Queue[Batch | BaseException | None] = queue.Queue(AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="kvit-verify-scan", daemon=True)

    def __enter__(self) -> Scan:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting for room
            with contextlib.suppress(queue.Empty):
                self._ready.get(timeout=0.05)

    def __iter__(self) -> Iterator[Batch]:
        while True:
            item = self._ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def ranges(self) -> Iterator[tuple[int, int | None]]:
        """(after, stop) of each batch: bounded up to the log's head, then the open last one."""
        after = 0
        while after + self.size < self.head:
            yield after, after + self.size
            after += self.size
        yield after, None

    def chain_rows(self, batch: Batch) -> list[ChainRow]:
        """The batch's chain rows one by one (for the walk one by one)."""
        if not self.kept:
            return []
        with self._lock:
            return self.store.chain_range(self.tx, after=batch.after, stop=batch.stop)

    def positions_of_hash(self, digest: bytes) -> list[int]:
        if not self.kept:
            return []
        with self._lock:
            return self.store.positions_of_hash(digest, self.tx)

    def _produce(self) -> None:
        try:
            leaf = 0
            for after, stop in self.ranges():
                with self._lock:
                    batch = read_batch(
                        self.app,
                        self.store if self.kept else None,
                        self.tx,
                        after=after,
                        stop=stop,
                        first_leaf=leaf,
                        size=self.size,
                    )
                if not self._put(batch):
                    return
                leaf += len(batch.events)
            self._put(None)
        except BaseException as error:  # handed to the caller, raised there
            self._put(error)

    def _put(self, item: Batch | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False
