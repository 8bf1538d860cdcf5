"""Read-your-writes: waiting, briefly and boundedly, until read models reach a log position.

A `PositionWatcher` knows each read model's position and wakes waiters through a condition
variable the moment it moves. Positions come from the in-process projector (embedded mode), or,
on PostgreSQL, from a listener thread that receives the runners' `NOTIFY` sent in the same
transaction as their tracking update. As a safety net against a lost notification the watcher
re-reads the tracking table every `REFRESH` seconds while someone is waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import psycopg
from psycopg import sql

from projections import progress
from projections.errors import ReadModelTimeoutError
from projections.hot import ReadCache
from projections.tracking import read_tracking
from storage.sql import Store

REFRESH = 0.05
log = logging.getLogger(__name__)


class PositionWatcher:
    def __init__(
        self, names: Iterable[str], refresh: Callable[[], dict[str, int]] | None = None
    ) -> None:
        self.names = tuple(names)
        self._positions = dict.fromkeys(self.names, 0)
        self._cond = threading.Condition()
        self._refresh = refresh
        self.on_wait: Callable[[], None] | None = None
        """Called when a wait starts (the embedded projector uses it as a wake-up call)."""

    def advance(self, positions: dict[str, int]) -> None:
        with self._cond:
            for name, position in positions.items():
                if position > self._positions.get(name, 0):
                    self._positions[name] = position
            self._cond.notify_all()

    def model_position(self, name: str) -> int:
        """One model's position, without the lock (a dict read is atomic): for the cache."""
        return self._positions.get(name, 0)

    def position(self, names: Iterable[str] | None = None) -> int:
        with self._cond:
            return min(self._positions[n] for n in (names or self.names))

    def wait_for(
        self, position: int, names: Iterable[str] | None = None, timeout: float = 2.0
    ) -> None:
        """Return once every named read model has applied the log up to `position`; raise
        `ReadModelTimeoutError` after `timeout` seconds."""
        wanted = tuple(names or self.names)
        if position <= 0 or self.position(wanted) >= position:
            return
        if self.on_wait is not None:
            self.on_wait()
        deadline = time.monotonic() + timeout
        next_refresh = time.monotonic() + REFRESH
        with self._cond:
            while min(self._positions[n] for n in wanted) < position:
                now = time.monotonic()
                if now >= deadline:
                    reached = {n: self._positions[n] for n in wanted}
                    raise ReadModelTimeoutError(
                        f"read models did not reach position {position} within {timeout}s",
                        position=position,
                        reached=reached,
                    )
                if self._refresh is not None and now >= next_refresh:
                    self._cond.release()
                    try:
                        self.advance(self._refresh())
                    finally:
                        self._cond.acquire()
                    next_refresh = time.monotonic() + REFRESH
                    continue
                self._cond.wait(min(deadline, next_refresh) - now)


def tracking_reader(store: Store) -> Callable[[], dict[str, int]]:
    def refresh() -> dict[str, int]:
        with store.read() as tx:
            return {name: position for name, (position, _) in read_tracking(tx).items()}

    return refresh


class ProgressListener(threading.Thread):
    """PostgreSQL: follows the runners' progress notifications into a watcher, and the keys
    they wrote into the hot-answer cache (which starts over on every connection, since
    notifications sent while not listening are lost)."""

    def __init__(self, store: Store, watcher: PositionWatcher, cache: ReadCache) -> None:
        super().__init__(name="kvit-read-progress", daemon=True)
        self.store = store
        self.watcher = watcher
        self.cache = cache
        self.stopping = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                log.warning("progress listener lost its connection (%s); reconnecting", error)
                self.stopping.wait(0.5)

    def _listen(self) -> None:
        with psycopg.connect(self.store.target, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.store.channel)))
            positions = tracking_reader(self.store)()
            self.cache.reset(positions)
            self.watcher.advance(positions)
            self.ready.set()
            while not self.stopping.is_set():
                for notify in conn.notifies(timeout=0.5):
                    reached, keys = progress.decode(notify.payload)
                    self.cache.changed(reached, keys)  # before waiters wake and read
                    self.watcher.advance(reached)

    def stop(self) -> None:
        self.stopping.set()
