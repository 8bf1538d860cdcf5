"""`kvit project`: a runner that keeps one read model up to date on PostgreSQL.

- It holds a session-level advisory lock on the read-model database for its projection, so two
  runners of one projection never both write: the second one waits as a standby (and takes
  over when the first stops or dies), or with `exit_if_busy` leaves with a clear message.
  Tracking is also a compare-and-set, so even a runner that lost its lock cannot apply twice.
- It follows new events through LISTEN/NOTIFY on the event store's channel, reading the log in
  batches from its tracking position, so it can be stopped or killed at any moment and resumes
  where its last committed batch ended.
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
from psycopg import sql

from ledger.bootstrap import build_ledger
from ledger.settings import Settings
from projections import models
from projections.errors import ProjectionBusyError
from projections.projector import Projector
from projections.schema import lock_key
from projections.settings import ReadSettings, open_store
from projections.store import Store
from projections.tracking import TrackingConflictError

MAX_FAILURES = 10
LOCK_RETRY = 1.0
LOCK_CHECK = 5.0
log = logging.getLogger(__name__)
Say = Callable[[str], None]


class ProjectionRunner:
    def __init__(
        self,
        name: str,
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
        models.build([name])  # fail early on an unknown name
        self.name = name
        self.settings = settings
        self.read = read
        self.exit_if_busy = exit_if_busy
        self.stop = stop or threading.Event()
        self.say = say
        self.store: Store = open_store(settings, read)
        self.applied = 0
        self.position = 0

    def run(self) -> None:
        """Run until `stop` is set. Raises `ProjectionBusyError` (exit_if_busy) or the last
        connection error after MAX_FAILURES failed sessions in a row."""
        failures = 0
        while not self.stop.is_set():
            try:
                self._session()
                failures = 0
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                failures += 1
                if failures >= MAX_FAILURES:
                    raise
                delay = min(5.0, 0.1 * 2**failures)
                self.say(f"{self.name}: connection lost ({error}); reconnecting in {delay:.1f}s")
                self.stop.wait(delay)

    def _session(self) -> None:
        lock = self._acquire_lock()
        if lock is None:
            return
        ledger = build_ledger(self.settings)
        listener = psycopg.connect(
            self.settings.database_url or "", autocommit=True, connect_timeout=5
        )
        projector: Projector | None = None
        try:
            listener.execute(
                sql.SQL("LISTEN {}").format(sql.Identifier(ledger.recorder.channel_name))
            )
            projector = Projector(
                ledger, self.store, models.build([self.name]), batch_size=self.read.batch_size
            )
            self.say(f"{self.name}: following the log from position {projector.position}")
            self._follow(projector, listener, lock)
        finally:
            if projector is not None:
                projector.close()
            listener.close()
            ledger.close()
            lock.close()

    def _follow(self, projector: Projector, listener: Any, lock: Any) -> None:
        checked = time.monotonic()
        while not self.stop.is_set():
            try:
                chunk = projector.step()
            except TrackingConflictError as conflict:
                self.say(f"{conflict}; resuming from position {projector.position}")
                continue
            self.applied += chunk.count
            self.position = projector.position
            if time.monotonic() - checked > LOCK_CHECK:
                lock.execute("SELECT 1")  # a lost lock connection means a lost lock: stop
                checked = time.monotonic()
            if not chunk.full:
                for _ in listener.notifies(timeout=1.0, stop_after=1):
                    pass

    def _acquire_lock(self) -> Any:
        """The connection holding this projection's lock, or None if asked to stop first."""
        key = lock_key("kvit-projection", self.store.schema or "public", self.name)
        told = False
        while not self.stop.is_set():
            connection = psycopg.connect(self.store.target, autocommit=True, connect_timeout=5)
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
            if row and row[0]:
                if told:
                    self.say(f"{self.name}: the other runner stopped; taking over")
                return connection
            holder = connection.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = %s",
                [key],
            ).fetchone()
            connection.close()
            where = f" (PostgreSQL backend pid {holder[0]})" if holder else ""
            message = f"projection {self.name} is already being run by another runner{where}"
            if self.exit_if_busy:
                raise ProjectionBusyError(message + "; exiting", projection=self.name)
            if not told:
                self.say(message + "; waiting as a standby until it stops")
                told = True
            self.stop.wait(LOCK_RETRY)
        return None


def run_all(
    names: list[str],
    settings: Settings,
    read: ReadSettings,
    *,
    exit_if_busy: bool,
    stop: threading.Event,
    say: Say,
) -> list[BaseException]:
    """Run several projections in this process, one thread each; return their errors."""
    errors: list[BaseException] = []

    def one(name: str) -> None:
        try:
            ProjectionRunner(
                name, settings, read, exit_if_busy=exit_if_busy, stop=stop, say=say
            ).run()
        except BaseException as error:
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=one, args=(n,), name=f"project-{n}") for n in names]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(0.2)
    return errors
