"""The read side as the HTTP layer sees it: one `ReadModels` object per process.

    read_models = ReadModels(settings, ledger).start()
    outcome = ledger.execute(CreatePayment.parse(...))
    read_models.wait_for(outcome.position)      # read-your-writes: now every read shows it
    page = queries.payment_history(read_models, payer_id=..., min_position=outcome.position)
    read_models.close()

Embedded (no KVIT_DATABASE_URL): the projections run in this process on the read models'
SQLite file. PostgreSQL: they run in `kvit project` processes; this object only reads, and
learns their progress from their notifications.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from functools import partial
from uuid import UUID

from eventsourcing.application import Application

from ledger.settings import Settings
from projections import models
from projections.embedded import EmbeddedFollower
from projections.errors import ReadModelStuckError
from projections.followers import Follower, read_followers
from projections.hot import ReadCache
from projections.known_links import KnownLinks
from projections.projector import Projector
from projections.schema import migrate_store
from projections.settings import ReadSettings, open_store
from projections.stuck import Stuck, read_stuck
from projections.waiting import PositionWatcher, ProgressListener, tracking_reader

STUCK_FRESH = 1.0
"""Seconds a read of the stuck models serves waits (one query a second, not one a write)."""


class ReadModels:
    def __init__(
        self,
        settings: Settings,
        ledger: Application[UUID],
        read: ReadSettings | None = None,
    ) -> None:
        self.settings = settings
        self.read_settings = read or ReadSettings()
        self.ledger = ledger
        self.store = open_store(settings, self.read_settings)
        self.names = models.NAMES
        self.watcher = PositionWatcher(self.names, refresh=tracking_reader(self.store))
        self.cache = ReadCache(observed=self.watcher.model_position)
        """Hot answers (see projections/hot.py), fed by the same news as the watcher."""
        self.links = KnownLinks()
        """Links seen committed (projections/known_links.py): a payment's probe check."""
        self._follower: EmbeddedFollower | None = None
        self._listener: ProgressListener | None = None
        self._stuck: tuple[float, dict[str, Stuck]] = (-STUCK_FRESH, {})
        self._stuck_reading: asyncio.Future[dict[str, Stuck]] | None = None

    @property
    def embedded(self) -> bool:
        return not self.settings.uses_postgres

    def start(self) -> ReadModels:
        if self.embedded:
            migrate_store(self.store, models.build())
            projector = Projector(
                self.ledger,
                self.store,
                models.build(),
                batch_size=self.read_settings.batch_size,
                announce=self.watcher.advance,
                on_change=self.cache.changed,
            )
            self.cache.reset(projector.positions)
            self.watcher.advance(projector.positions)
            self._follower = EmbeddedFollower(projector)
            self.watcher.on_wait = self._follower.wake
            self._follower.start()
        else:
            self._listener = ProgressListener(self.store, self.watcher, self.cache)
            self._listener.start()
            self._listener.ready.wait(5)
        return self

    def wake(self) -> None:
        """Tell the embedded projections there is something new (a no-op on PostgreSQL)."""
        if self._follower is not None:
            self._follower.wake()

    def wait_for(
        self, position: int, names: Iterable[str] | None = None, timeout: float | None = None
    ) -> None:
        """Block until the read models (all, or `names`) include `position`; bounded by
        `timeout` (default `KVIT_READ_WAIT_TIMEOUT_SECONDS`), then `ReadModelTimeoutError`."""
        limit = self.read_settings.wait_timeout_seconds if timeout is None else timeout
        wanted = tuple(names or self.names)
        if self.watcher.position(wanted) < position:
            self._refuse_if_stuck(position, wanted)
        self.watcher.wait_for(position, wanted, limit)

    async def wait_for_async(
        self, position: int, names: Iterable[str] | None = None, timeout: float | None = None
    ) -> None:
        """`wait_for` on the running event loop, holding no thread while it waits."""
        limit = self.read_settings.wait_timeout_seconds if timeout is None else timeout
        wanted = tuple(names or self.names)
        if self.watcher.position(wanted) < position:
            if self._stuck_stale():  # at most once a second: a query, in a thread
                await asyncio.shield(self._reading_stuck())
            self._refuse_if_stuck(position, wanted)
        await self.watcher.wait_for_async(position, wanted, limit)

    def _reading_stuck(self) -> asyncio.Future[dict[str, Stuck]]:
        """The one read of the stuck models in flight on this loop, which every request that
        finds them stale awaits (not one thread each)."""
        loop = asyncio.get_running_loop()
        reading = self._stuck_reading
        if reading is None or reading.done() or reading.get_loop() is not loop:
            reading = loop.run_in_executor(None, partial(self.stuck, fresh=False))
            self._stuck_reading = reading
        return reading

    def stuck(self, *, fresh: bool = True) -> dict[str, Stuck]:
        """The stuck read models (projections/stuck.py), as the database says now, or (not
        `fresh`) as it said at most `STUCK_FRESH` seconds ago."""
        known = self._stuck[1]
        if fresh or self._stuck_stale():
            with self.store.read() as tx:
                known = read_stuck(tx)
            self._stuck = (time.monotonic(), known)
        return known

    def _stuck_stale(self) -> bool:
        return time.monotonic() - self._stuck[0] > STUCK_FRESH

    def followers(self) -> dict[str, tuple[bool, Follower]]:
        """Every follower that has beaten (projections/followers.py), and whether it is up:
        heard from within `KVIT_READ_FOLLOWER_SILENCE_SECONDS`."""
        silence = self.read_settings.follower_silence_seconds
        return {f.name: (f.silent_seconds <= silence, f) for f in read_followers(self.store)}

    def _refuse_if_stuck(self, position: int, names: tuple[str, ...]) -> None:
        """A wait for a stuck model would only ever time out: tell the caller at once."""
        stuck = {n: s for n, s in self.stuck(fresh=False).items() if n in names}
        stopped = {n: s.position for n, s in stuck.items() if s.position < position}
        if stopped:
            raise ReadModelStuckError(
                f"read model(s) {', '.join(sorted(stopped))} are stuck before position {position}",
                position=position,
                stuck=stopped,
            )

    def position(self, names: Iterable[str] | None = None) -> int:
        return self.watcher.position(names)

    def close(self) -> None:
        self.watcher.close()
        if self._follower is not None:
            self._follower.stop()
            self._follower.join(5)
        if self._listener is not None:
            self._listener.stop()
            self._listener.join(5)
        self.store.close()

    def __enter__(self) -> ReadModels:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
