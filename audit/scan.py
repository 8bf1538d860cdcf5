"""Reading the log beside its chain and stored tree, batch by batch, in one snapshot.

`kvit audit verify` reads the events, the chain rows of the same positions and the stored
leaf hashes of the same leaves inside one read-only transaction of the audit store (on the
log's own database), so a follower appending meanwhile cannot make a row look missing. The
chain and the leaves come as columns (a few values per batch, not an object per row).

A thread reads the next batches while the caller hashes this one: the database works on one
core while Python hashes on the other. Both share the transaction's connection under a lock.
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
from storage.log import StoredRow, scan_stored
from storage.sql import Tx

AHEAD = 2
"""Batches read ahead of the hashing."""


@dataclass(frozen=True, slots=True)
class Batch:
    after: int
    stop: int | None
    """Positions (after, stop]; None for the last batch, which takes every chain row left."""
    events: list[StoredRow]
    chain: ChainBlock
    first_leaf: int
    """Leaf index of the batch's first event: every event before it is a leaf."""
    stored_leaves: bytes
    """The stored tree's leaf hashes from `first_leaf`, one per event at most."""


class Scan:
    """The batches of a log, read ahead by a thread; `chain_rows` reads in the same snapshot."""

    def __init__(
        self, app: Application[UUID], store: AuditStore, tx: Tx, size: int, *, kept: bool
    ) -> None:
        """`kept`: the audit tables exist (else the log is read alone)."""
        self.app, self.store, self.tx, self.size, self.kept = app, store, tx, size, kept
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

    def chain_rows(self, batch: Batch) -> list[ChainRow]:
        """The batch's chain rows one by one (for the exact walk)."""
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
            for batch in self._read():
                if not self._put(batch):
                    return
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

    def _read(self) -> Iterator[Batch]:
        after, leaf, store, tx = 0, 0, self.store, self.tx
        while not self._stop.is_set():
            with self._lock:
                events = scan_stored(self.app, tx, after=after, limit=self.size)
                stop = events[-1][0] if len(events) == self.size else None
                chain, stored = ChainBlock([], [], b"", b"", b""), b""
                if self.kept:
                    chain = store.chain_block(tx, after=after, stop=stop)
                    stored = store.stored_leaves(tx, leaf, leaf + len(events))
            yield Batch(after, stop, events, chain, leaf, stored)
            if stop is None:
                return
            after, leaf = stop, leaf + len(events)
