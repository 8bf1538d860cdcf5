"""Reading the log beside its chain and stored tree, batch by batch, in one snapshot.

`kvit audit verify` reads the events, the chain rows of the same positions and the stored
leaf hashes of the same leaves inside one read-only transaction of the audit store (on the
log's own database), so a follower appending meanwhile cannot make a row look missing. The
chain and the leaves come as columns (a few values per batch, not an object per row).

A batch is a range of positions, (after, after + size], bounded on both sides: a read open at
the top was planned, with the table's statistics stale (as after a bulk load), as a scan and
sort of the whole rest of the log for every batch. Only the last batch is open, to take the
chain rows beyond the log's end (its newest events deleted).

Two ways to go through it:
- one process: a thread reads the next batches while the caller hashes this one (the database
  works on one core while Python hashes on the other), sharing the transaction's connection
  under a lock;
- worker processes (PostgreSQL, a large log): hashing is most of the work and Python hashes
  on one core per process, so each worker reads whole batches in the same snapshot (exported
  by the transaction, `SET TRANSACTION SNAPSHOT`) and checks them in bulk itself; the caller
  gets each batch's hashes, in order. A batch a worker found not to agree with its chain is
  read again by the caller, to be walked position by position.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from multiprocessing.pool import Pool
from types import TracebackType
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from psycopg import sql

from audit.bulk_check import check
from audit.encoding import GENESIS
from audit.store import AuditStore, ChainBlock, ChainRow
from storage.log import StoredRow, head_in, scan_stored
from storage.sql import Tx

AHEAD = 2
"""Batches read ahead of the hashing (one process)."""
WORKERS_FROM = 100_000
"""Log positions from which worker processes pay for their start."""
NO_CHAIN = ChainBlock([], [], b"", b"", b"")


@dataclass(frozen=True, slots=True)
class Checked:
    """A worker's bulk check of a batch that agrees with its chain rows, which follow the
    recorded chain hash `running` and row `seq`."""

    running: bytes
    seq: int
    leaves: list[bytes]


@dataclass(frozen=True, slots=True)
class Batch:
    after: int
    stop: int | None
    """Positions (after, stop]; None for the last batch, which takes every chain row left."""
    first_leaf: int
    """Leaf index of the batch's first event: every event before it is a leaf."""
    events: list[StoredRow]
    """The events (none when a worker checked them: `checked`)."""
    chain: ChainBlock
    stored_leaves: bytes
    """The stored tree's leaf hashes from `first_leaf`, one per event at most."""
    checked: Checked | None = None
    by_worker: bool = False
    """A worker read it: its events were not handed over (checked in bulk, or not agreeing)."""


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
    """The batches of a log, in order; `chain_rows` and `raw` read in the same snapshot."""

    def __init__(
        self,
        app: Application[UUID],
        store: AuditStore,
        tx: Tx,
        size: int,
        *,
        kept: bool,
        jobs: int = 1,
    ) -> None:
        """`kept`: the audit tables exist (else the log is read alone). `jobs`: worker
        processes to hash in (PostgreSQL; 1 hashes in this process)."""
        self.app, self.store, self.tx, self.size, self.kept = app, store, tx, size, kept
        self.jobs = jobs
        self.head = head_in(app, tx)
        self._lock = threading.Lock()
        self._ready: queue.Queue[Batch | BaseException | None] = queue.Queue(AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="kvit-verify-scan", daemon=True)
        self._pool: Pool | None = None

    def __enter__(self) -> Scan:
        if self.jobs > 1 and self.kept:
            self._pool = self._start_workers()
        if self._pool is None:
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting for room
            with contextlib.suppress(queue.Empty):
                self._ready.get(timeout=0.05)

    def __iter__(self) -> Iterator[Batch]:
        if self._pool is not None:
            yield from self._from_workers(self._pool)
            return
        while True:
            item = self._ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    @property
    def workers(self) -> int:
        """Worker processes hashing (0: this process hashes)."""
        return self.jobs if self._pool is not None else 0

    def ranges(self) -> Iterator[tuple[int, int | None]]:
        """(after, stop) of each batch: bounded up to the log's head, then the open last one."""
        after = 0
        while after + self.size < self.head:
            yield after, after + self.size
            after += self.size
        yield after, None

    def raw(self, after: int, stop: int | None, first_leaf: int) -> Batch:
        """A batch read with its events, for the walk one by one."""
        store = self.store if self.kept else None
        with self._lock:
            return read_batch(
                self.app,
                store,
                self.tx,
                after=after,
                stop=stop,
                first_leaf=first_leaf,
                size=max(self.size, self.head - after),
            )

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

    # --- one process: a thread reads ahead -------------------------------------------------------
    def _produce(self) -> None:
        try:
            leaf = 0
            for after, stop in self.ranges():
                batch = self.raw(after, stop, leaf)
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

    # --- worker processes ------------------------------------------------------------------------
    def _start_workers(self) -> Pool | None:
        """Workers forked now, each reading in this transaction's snapshot; None where that
        cannot be (not PostgreSQL, no `fork`, a log too small to pay for them)."""
        if (
            not self.store.postgres
            or self.head < WORKERS_FROM
            or "fork" not in multiprocessing.get_all_start_methods()
        ):
            return None
        snapshot = str(self.tx.execute("SELECT pg_export_snapshot()")[0][0])
        _job.update(app=self.app, store=self.store, snapshot=snapshot, size=self.size)
        # Forked with the collector off, and it stays off there: an inherited object that is
        # garbage here must not be finalised in a child (a connection would close our socket).
        gc.disable()
        try:
            return multiprocessing.get_context("fork").Pool(self.jobs, initializer=_connect)
        finally:
            gc.enable()

    def _from_workers(self, pool: Pool) -> Iterator[Batch]:
        """Each batch as a worker checked it, or (where it did not agree) with its events, its
        first leaf then the caller's to say (`raw`)."""
        ranges = list(self.ranges())
        for (after, stop), batch in zip(ranges, pool.imap(_check, ranges), strict=True):
            yield batch or Batch(after, stop, -1, [], NO_CHAIN, b"", by_worker=True)


_job: dict[str, Any] = {}
"""What a forked worker inherits: the log, the audit store, the snapshot to read in."""


def _connect() -> None:
    store: AuditStore = _job["store"]
    _job["connection"] = psycopg.connect(store.target, connect_timeout=5)


def _check(task: tuple[int, int | None]) -> Batch | None:
    """In a worker: read a batch in the snapshot and check it in bulk, from the chain row
    before it; None if it does not agree with its chain rows (the caller walks it)."""
    after, stop = task
    store: AuditStore = _job["store"]
    connection = _job["connection"]
    with connection.transaction():
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        connection.execute(
            sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(_job["snapshot"]))
        )
        tx = Tx(store, connection)
        before = store.chain_before(tx, after) if after else None
        running, seq = (before.chain_hash, before.seq) if before else (GENESIS, 0)
        batch = read_batch(
            _job["app"], store, tx, after=after, stop=stop, first_leaf=seq, size=_job["size"]
        )
    leaves = check(batch.events, batch.chain, running, seq)
    if leaves is None:
        return None
    chain = replace(batch.chain, stamps=b"", event_hashes=b"")  # the caller needs no more
    checked = Checked(running, seq, leaves)
    return replace(batch, events=[], chain=chain, checked=checked, by_worker=True)
