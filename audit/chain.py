"""Extending the hash chain: a follower of the notification log, like a projection.

It reads the log in commit order after the chain's last row, hashes each stored event, and
appends the rows in one transaction per batch (compare-and-set on the head, see store.py). It
never touches the write path: writers do not wait for it, and on PostgreSQL the table lock
they take already makes notification-id order the commit order, so the follower never skips
a late-committing event.

Where it runs: on PostgreSQL in its own `kvit audit follow` process (LISTEN on the event
store's channel, a poll every second as a safety net); on SQLite in a thread inside
`kvit serve`. `kvit audit checkpoint` and `kvit audit verify --catch-up` also catch up on demand.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from audit.encoding import GENESIS, EntryError, canonical, chain_hash, timestamp_of
from audit.merkle import leaf_hash
from audit.store import CHAIN, AuditStore, ChainRow
from storage.log import Recorded, read_stored

BATCH = 5000
# The name it had inside ledger/, which operators' log filters and alerts know.
log = logging.getLogger("ledger.audit.chain")


@dataclass(frozen=True)
class CatchUp:
    appended: int
    head: ChainRow | None


def rows_for(
    previous: ChainRow | None, events: list[Recorded]
) -> tuple[list[ChainRow], list[bytes]]:
    """Chain rows for stored events (in position order) that follow `previous`, and the
    events' leaf hashes in the Merkle tree."""
    seq, chain = (previous.seq, previous.chain_hash) if previous else (0, GENESIS)
    rows, leaves = [], []
    for e in events:
        stamp = timestamp_of(e.state)
        try:
            entry = canonical(e.originator_id, e.version, e.topic, stamp, e.state)
        except EntryError as error:
            raise EntryError(
                f"the event at position {e.position} cannot be chained: {error};"
                " run `kvit audit verify`"
            ) from None
        digest = sha256(entry).digest()
        chain, seq = chain_hash(chain, digest), seq + 1
        rows.append(ChainRow(e.position, seq, stamp, digest, chain))
        leaves.append(leaf_hash(entry))
    return rows, leaves


class TreeMismatchError(RuntimeError):
    """The log no longer holds the event a chain row recorded: the tree is not built on it."""


def build_tree(
    app: Application[UUID],
    store: AuditStore,
    *,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Grow the Merkle tree to the chain's length from the log (the migration of a chain kept
    before the tree existed); returns the leaves added. Each event must still hash to what
    its chain row recorded: a tampered log is refused, never sealed into the tree."""
    head, added = store.head(), 0
    target = head.seq if head else 0
    size = store.tree_size()
    if size > target:
        raise TreeMismatchError(
            f"the Merkle tree holds {size} leaves but the chain only {target}: the chain table"
            " was cut; run `kvit audit verify`"
        )
    after = _position_of_leaf(store, size)
    while size < target:
        rows = store.chain_rows(after=after, limit=batch)
        found = read_stored(app, after=after, limit=2 * len(rows) + 100, stop=rows[-1].position)
        events = {e.position: e for e in found}
        leaves = []
        for row in rows:
            e = events.get(row.position)
            entry = b""
            if e is not None:
                with contextlib.suppress(EntryError):  # no entry: not the event recorded
                    entry = canonical(e.originator_id, e.version, e.topic, row.timestamp, e.state)
            if e is None or sha256(entry).digest() != row.event_hash:
                raise TreeMismatchError(
                    f"the event at position {row.position} is not the one its chain row"
                    " recorded: run `kvit audit verify`; no tree is built on a changed log"
                )
            leaves.append(leaf_hash(entry))
        if store.add_leaves(size, leaves):
            added, size, after = added + len(leaves), size + len(leaves), rows[-1].position
        else:  # another process grew it first
            size = store.tree_size()
            after = _position_of_leaf(store, size)
        if progress is not None:
            progress(size, target)
    return added


def _position_of_leaf(store: AuditStore, size: int) -> int:
    """The log position of the chain row with seq `size` (leaf `size - 1`); 0 for none."""
    if size == 0:
        return 0
    rows = store.query(f"SELECT position FROM {store.name(CHAIN)} WHERE seq = %s", [size])
    return int(rows[0][0])


def catch_up(
    app: Application[UUID],
    store: AuditStore,
    *,
    batch: int = BATCH,
    stop: int | None = None,
    progress: Callable[[int], None] | None = None,
    known: CatchUp | None = None,
) -> CatchUp:
    """Chain every stored event not chained yet (up to `stop`); returns how many and the head.
    `known`: what this process's previous catch-up returned, so a follower goes on from the
    head it wrote without reading it back (if another wrote since, the append's
    compare-and-set refuses and the head is read again)."""
    if known is None:
        build_tree(app, store, batch=batch)
        head = store.head()
    else:
        head = known.head
    appended = 0
    while True:
        events = read_stored(app, after=head.position if head else 0, limit=batch, stop=stop)
        if not events:
            return CatchUp(appended, head)
        rows, leaves = rows_for(head, events)
        if store.append(head, rows, leaves):
            head, appended = rows[-1], appended + len(rows)
            if progress is not None:
                progress(head.position)
            if len(events) < batch:
                return CatchUp(appended, head)
        else:
            build_tree(app, store, batch=batch)  # another follower got there first:
            head = store.head()  # go on from its head


class ChainFollower(threading.Thread):
    """Keeps the chain up to date in this process (embedded mode), and calls `on_progress`
    after each catch-up (the periodic checkpointer hangs off it)."""

    def __init__(
        self,
        app: Application[UUID],
        store: AuditStore,
        *,
        idle: float = 0.5,
        on_progress: Callable[[ChainRow | None], None] | None = None,
    ) -> None:
        super().__init__(name="kvit-audit-chain", daemon=True)
        self.app = app
        self.store = store
        self.idle = idle
        self.on_progress = on_progress
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.failures = 0

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                done = catch_up(self.app, self.store)
                if self.on_progress is not None:
                    self.on_progress(done.head)
                self.failures = 0
            except Exception:
                self.failures += 1
                log.exception("extending the audit chain failed; retrying")
                self._stopping.wait(min(5.0, 0.05 * 2 ** min(self.failures, 6)))
                continue
            self._wake.wait(self.idle)


class Checkpointer:
    """Signs a checkpoint when the chain has grown by `every_events`, or when `interval`
    seconds have passed and it grew at all."""

    def __init__(
        self,
        sign: Callable[[ChainRow], Any],
        *,
        every_events: int,
        interval: float,
        last: ChainRow | None = None,
    ) -> None:
        self.sign = sign
        self.every_events = every_events
        self.interval = interval
        self.last_seq = last.seq if last else 0
        self.last_time = time.monotonic()

    def __call__(self, head: ChainRow | None) -> None:
        if head is None or head.seq == self.last_seq:
            return
        due = head.seq - self.last_seq >= self.every_events
        if due or time.monotonic() - self.last_time >= self.interval:
            self.sign(head)
            self.last_seq, self.last_time = head.seq, time.monotonic()
