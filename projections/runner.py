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
- The models no write's answer waits for (`models.LAGGING`: the trial balance, matching) are
  applied at most once every `lagging_linger_seconds`, in one batch with all the commits of
  that while; the others at every commit (two projectors taking turns on one connection).
- It beats a row per read model about once a second on that connection
  (projections/followers.py), so `/readyz` can tell when it died; stopped by a signal, it
  removes them.
- A lost connection ends the session; the runner reconnects with backoff, a bounded number of
  times in a row, then exits non-zero for its supervisor to restart it.
"""

from __future__ import annotations

import logging
import threading
import time
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
        projectors: list[Projector] = []
        groups = self._groups()
        shared = None
        try:
            # The lock's connection also listens: one connection fewer per runner.
            listen(lock, ledger)
            if len(groups) > 1:
                shared = self.store.connect()  # one for both: the budget counts one
            for names in groups:
                projectors.append(
                    Projector(
                        ledger,
                        self.store,
                        models.build(names),
                        batch_size=self.read.batch_size,
                        connection=shared,
                    )
                )
            for projector in projectors:
                for name, position in projector.positions.items():
                    self.say(f"{name}: following the log from position {position}")
            self.heartbeat.beat(lock, now=True)
            self._follow(projectors, lock)
            self.heartbeat.forget(lock)  # stopped on purpose: no longer expected
        finally:
            for projector in projectors:
                projector.close()
            if shared is not None:
                shared.close()
            ledger.close()
            lock.close()

    def _groups(self) -> list[list[str]]:
        """[every model] or, with a linger, [those a write's answer waits for, the lagging]:
        two projectors that take turns on one connection, the second at most once a linger."""
        lagging = [n for n in self.names if n in models.LAGGING]
        prompt = [n for n in self.names if n not in models.LAGGING]
        if not self.read.lagging_linger_seconds or not lagging or not prompt:
            return [self.names]
        return [prompt, lagging]

    def _follow(self, projectors: list[Projector], lock: Any) -> None:
        prompt, lagging = projectors[0], projectors[1] if len(projectors) > 1 else None
        linger = self.read.lagging_linger_seconds
        due = 0.0  # when the lagging models may step next (monotonic)
        owed = True  # the log may hold what the lagging models have not applied
        while not self.stop.is_set():
            more = False
            try:
                chunk = prompt.step()
                self.applied += chunk.count
                more = chunk.full
                if lagging is not None and owed and time.monotonic() >= due:
                    late = lagging.step()
                    self.applied += late.count
                    if late.full:
                        more = True
                    else:
                        owed, due = False, time.monotonic() + linger
            except TrackingConflictError as conflict:
                self.say(f"{conflict}; resuming from position {self._position(projectors)}")
                continue
            self.position = self._position(projectors)
            # Also a check of the lock: a lost lock connection means a lost lock, so stop.
            self.heartbeat.beat(lock)
            if more:
                continue
            wait = 1.0
            if lagging is not None and owed:
                wait = max(0.0, min(wait, due - time.monotonic()))
            for _ in lock.notifies(timeout=wait, stop_after=1):
                pass
            owed = True  # news, or a quiet second: look again (as the prompt models do)

    @staticmethod
    def _position(projectors: list[Projector]) -> int:
        return min(p.position for p in projectors)

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
