"""Read-your-writes: waiting, briefly and boundedly, until read models reach a log position.

A `PositionWatcher` knows each read model's position and wakes waiters the moment it moves:
threads through a condition variable, event-loop requests (`wait_for_async`) by resolving their
futures on their own loops, so a waiting request holds no thread. Positions come from the
in-process projector (embedded mode), or, on PostgreSQL, from a listener thread that receives
the runners' `NOTIFY` sent in the same transaction as their tracking update.

As a safety net against a lost notification, one refresher thread per watcher re-reads the
tracking table while anyone waits and no news came for `REFRESH` seconds: one query for all the
waiters of the process, not one per waiting request (a profile under load found each waiting
request polling the table every 50 ms). Notifications are sent in the transaction that moves
the tracking, and the listener re-reads every position whenever it reconnects, so the net is for
the unforeseen: half a second, not 50 ms, which under load (the projector's batches often more
than 50 ms apart) still had a worker's refresher querying 20 times a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from projections import progress
from projections.errors import ReadModelTimeoutError
from projections.hot import ReadCache
from projections.tracking import read_tracking
from storage.sql import Store

REFRESH = 0.5
log = logging.getLogger(__name__)


@dataclass(eq=False)
class _AsyncWaiter:
    position: int
    names: tuple[str, ...]
    loop: asyncio.AbstractEventLoop
    reached: asyncio.Future[bool]


class PositionWatcher:
    def __init__(
        self, names: Iterable[str], refresh: Callable[[], dict[str, int]] | None = None
    ) -> None:
        self.names = tuple(names)
        self._positions = dict.fromkeys(self.names, 0)
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # the waiting threads'
        self._needed = threading.Condition(lock)  # the refresher's
        self._refresh = refresh
        self._waiting = 0
        self._async_waiters: set[_AsyncWaiter] = set()
        self._news = time.monotonic()
        self._refresher: threading.Thread | None = None
        self._closed = False
        self.refreshes = 0
        self.on_wait: Callable[[], None] | None = None
        """Called when a wait starts (the embedded projector uses it as a wake-up call)."""

    def advance(self, positions: dict[str, int]) -> None:
        with self._cond:
            self._news = time.monotonic()
            for name, position in positions.items():
                if position > self._positions.get(name, 0):
                    self._positions[name] = position
            self._cond.notify_all()
            woken = self._reached_async() if self._async_waiters else []
        _wake(woken)

    def model_position(self, name: str) -> int:
        """One model's position, without the lock (a dict read is atomic): for the cache."""
        return self._positions.get(name, 0)

    def position(self, names: Iterable[str] | None = None) -> int:
        with self._cond:
            return self._at(tuple(names or self.names))

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
        with self._cond:
            self._begin_wait()
            try:
                while self._at(wanted) < position:
                    now = time.monotonic()
                    if now >= deadline:
                        raise self._timed_out(position, wanted, timeout)
                    self._cond.wait(deadline - now)
            finally:
                self._waiting -= 1

    async def wait_for_async(
        self, position: int, names: Iterable[str] | None = None, timeout: float = 2.0
    ) -> None:
        """`wait_for` on the running event loop, holding no thread: the waiting request's
        future is resolved on its loop by whoever advances the positions."""
        wanted = tuple(names or self.names)
        if position <= 0 or self.position(wanted) >= position:
            return
        if self.on_wait is not None:
            self.on_wait()
        loop = asyncio.get_running_loop()
        waiter = _AsyncWaiter(position, wanted, loop, loop.create_future())
        with self._cond:
            if self._at(wanted) >= position:
                return
            self._async_waiters.add(waiter)
            self._begin_wait()
        expiry = loop.call_later(timeout, _settle, [waiter.reached], False)
        try:
            reached = await waiter.reached
        finally:
            expiry.cancel()
            with self._cond:
                self._async_waiters.discard(waiter)
                self._waiting -= 1
        if not reached:
            with self._cond:
                raise self._timed_out(position, wanted, timeout)

    def close(self) -> None:
        """Stop the refresher (waits in progress run out on their own)."""
        with self._cond:
            self._closed = True
            self._needed.notify()

    # --- under the lock -------------------------------------------------------------------------
    def _at(self, names: tuple[str, ...]) -> int:
        return min(self._positions[n] for n in names)

    def _timed_out(
        self, position: int, names: tuple[str, ...], timeout: float
    ) -> ReadModelTimeoutError:
        return ReadModelTimeoutError(
            f"read models did not reach position {position} within {timeout}s",
            position=position,
            reached={n: self._positions[n] for n in names},
        )

    def _reached_async(self) -> list[_AsyncWaiter]:
        done = [w for w in self._async_waiters if self._at(w.names) >= w.position]
        self._async_waiters.difference_update(done)
        return done

    def _begin_wait(self) -> None:
        self._waiting += 1
        if self._refresh is None or self._closed or self._waiting > 1:
            return  # the refresher already counts down, or there is none
        if self._refresher is None:
            self._refresher = threading.Thread(
                target=self._refresh_while_waited, name="kvit-read-refresh", daemon=True
            )
            self._refresher.start()
        self._needed.notify()  # it sleeps without a bound while nobody waits

    # --- the refresher thread -------------------------------------------------------------------
    def _refresh_while_waited(self) -> None:
        """While anyone waits and no news came for `REFRESH` seconds, re-read the positions:
        one query for every waiter of this process."""
        assert self._refresh is not None
        with self._cond:
            while not self._closed:
                quiet = time.monotonic() - self._news
                if not self._waiting or quiet < REFRESH:
                    self._needed.wait(REFRESH - quiet if self._waiting else None)
                    continue
                self.refreshes += 1
                self._cond.release()
                try:
                    try:
                        positions = self._refresh()
                    except Exception as error:  # the next round tries again; waits are bounded
                        log.warning("re-reading the read models' positions failed: %s", error)
                        positions = {}
                    self.advance(positions)  # news, even if nothing moved: REFRESH till the next
                finally:
                    self._cond.acquire()


def _wake(waiters: list[_AsyncWaiter]) -> None:
    """Resolve each waiter's future on its own loop: one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[bool]]] = {}
    for waiter in waiters:
        by_loop.setdefault(waiter.loop, []).append(waiter.reached)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # its loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_settle, futures, True)


def _settle(futures: list[asyncio.Future[bool]], reached: bool) -> None:
    for future in futures:
        if not future.done():
            future.set_result(reached)


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
