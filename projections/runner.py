"""`kvit project`: one follower that reads the log once and keeps every read model up to date
on PostgreSQL (each model at its own tracking position, all applied in one transaction a batch).

- It holds a session-level advisory lock on the read-model database for each of its read
  models, so two runners of one projection never both write: the second one waits as a standby
  (and takes over when the first stops or dies), or with `exit_if_busy` leaves with a clear
  message. It takes all its locks or none. Tracking is also a compare-and-set, so even a runner
  that lost its lock cannot apply twice.
- It follows new events through LISTEN/NOTIFY on the event store's channel (on the connection
  that holds the locks), reading the log in batches from its tracking positions, so it can be
  stopped or killed at any moment and resumes where its last committed batch ended.
- It beats a row per read model about once a second on that connection
  (projections/followers.py), so `/readyz` can tell when it died; stopped by a signal, it
  removes them.
- A lost connection ends the session; the runner reconnects with backoff, a bounded number of
  times in a row, then exits non-zero for its supervisor to restart it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from ledger.bootstrap import build_ledger
from ledger.settings import Settings
from projections import followers, models
from projections.errors import ProjectionBusyError
from projections.locks import lock_keys
from projections.projector import Projector
from projections.settings import ReadSettings, open_store
from projections.tracking import TrackingConflictError
from storage.faults import cured_by_reconnecting
from storage.listen import listen
from storage.sql import Store

MAX_FAILURES = 10
LOCK_RETRY = 1.0
log = logging.getLogger(__name__)
Say = Callable[[str], None]


class ReadModelFollower:
    def __init__(
        self,
        names: str | list[str],
        settings: Settings,
        read: ReadSettings,
        *,
        exit_if_busy: bool = False,
        stop: threading.Event | None = None,
        say: Say = log.info,
    ) -> None:
        if not settings.uses_postgres:
            raise ValueError(
                "`kvit project` follows PostgreSQL; in embedded mode the projections run "
                "inside `kvit serve`"
            )
        self.names = [names] if isinstance(names, str) else list(names)
        models.build(self.names)  # fail early on an unknown name
        self.settings = settings
        self.read = read
        self.exit_if_busy = exit_if_busy
        self.stop = stop or threading.Event()
        self.say = say
        self.store: Store = open_store(settings, read)
        self.heartbeat = followers.Heartbeat(
            self.store, [followers.projection(n) for n in self.names]
        )
        self.applied = 0
        self.position = 0

    @property
    def label(self) -> str:
        return ", ".join(self.names)

    def run(self) -> None:
        """Run until `stop` is set. Raises `ProjectionBusyError` (exit_if_busy) or the last
        connection error after MAX_FAILURES failed sessions in a row."""
        failures = 0
        while not self.stop.is_set():
            try:
                self._session()
                failures = 0
            except Exception as error:
                if not cured_by_reconnecting(error):  # e.g. a server in recovery after a failover
                    raise
                failures += 1
                if failures >= MAX_FAILURES:
                    raise
                delay = min(5.0, 0.1 * 2**failures)
                self.say(f"{self.label}: connection lost ({error}); reconnecting in {delay:.1f}s")
                self.stop.wait(delay)

    def _session(self) -> None:
        lock = self._acquire_locks()
        if lock is None:
            return
        ledger = build_ledger(self.settings)
        projector: Projector | None = None
        try:
            # The lock's connection also listens: one connection fewer per runner.
            listen(lock, ledger)
            projector = Projector(
                ledger, self.store, models.build(self.names), batch_size=self.read.batch_size
            )
            for name in self.names:
                self.say(f"{name}: following the log from position {projector.positions[name]}")
            self.heartbeat.beat(lock, now=True)
            self._follow(projector, lock)
            self.heartbeat.forget(lock)  # stopped on purpose: no longer expected
        finally:
            if projector is not None:
                projector.close()
            ledger.close()
            lock.close()

    def _follow(self, projector: Projector, lock: Any) -> None:
        while not self.stop.is_set():
            try:
                chunk = projector.step()
            except TrackingConflictError as conflict:
                self.say(f"{conflict}; resuming from position {projector.position}")
                continue
            self.applied += chunk.count
            self.position = projector.position
            # Also a check of the lock: a lost lock connection means a lost lock, so stop.
            self.heartbeat.beat(lock)
            if not chunk.full:
                for _ in lock.notifies(timeout=1.0, stop_after=1):
                    pass

    def _acquire_locks(self) -> Any:
        """The connection holding every one of this runner's locks, or None if asked to stop
        first. All or none: a runner never applies some models while another runs the rest."""
        keys = lock_keys(self.store, self.names)
        told = False
        while not self.stop.is_set():
            connection = psycopg.connect(self.store.target, autocommit=True, connect_timeout=5)
            busy = None
            for name, key in keys.items():
                row = connection.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
                if not (row and row[0]):
                    busy = name
                    break
            if busy is None:
                if told:
                    self.say(f"{self.label}: the other runner stopped; taking over")
                return connection
            holder = connection.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = %s",
                [keys[busy]],
            ).fetchone()
            connection.close()  # releases the locks it did take
            where = f" (PostgreSQL backend pid {holder[0]})" if holder else ""
            message = f"projection {busy} is already being run by another runner{where}"
            if self.exit_if_busy:
                raise ProjectionBusyError(message + "; exiting", projection=busy)
            if not told:
                self.say(message + "; waiting as a standby until it stops")
                told = True
            self.stop.wait(LOCK_RETRY)
        return None
