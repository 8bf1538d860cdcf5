"""Running commands: alone with bounded retries, or many in one transaction (group commit).

The event store serialises writers on a table lock, so one `save()` per commit is the ceiling.
Group commit lifts it without giving up per-command results, errors or idempotency:

1. Each caller runs its command in its own thread and unit of work, so the reads of many
   commands overlap. A domain error goes straight back to its caller; nothing was saved.
2. The new events join a queue. The first caller to find no leader becomes the leader and saves
   everything queued in ONE transaction, then hands the lead to a waiting caller.
3. Two commands of one batch that change the same aggregate read the same version: the later
   one is sent back and re-run. If the shared save meets a conflict with another process, each
   command of the batch is saved alone, so no caller sees a conflict it did not cause.
4. A command that was sent back runs next time under the lead, serialised with the other
   re-runs of its batch (each in a child unit of work), so contention on one hot wallet makes
   commands wait their turn instead of failing. Only persistent conflicts with other processes
   end in `ConcurrentUpdateError`, after a bounded number of attempts.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.domain.idempotency import IdempotencyRecord
from ledger.engine.unit_of_work import CachedApplication, Changes, Command, UnitOfWork
from ledger.errors import ConcurrentUpdateError, LedgerError
from storage.encode import encode_new
from storage.event_store import record_stored

MAX_ATTEMPTS = 8
MAX_BATCH = 128


R = TypeVar("R")


@dataclass
class Outcome(Generic[R]):
    """What one command produced, and the log position that includes it (0 if nothing saved)."""

    result: R
    position: int

    @property
    def replayed(self) -> bool:
        """A keyed command's retry: the original result, nothing saved this time."""
        return isinstance(self.result, Mapping) and bool(self.result.get("replayed"))


def save_events(app: CachedApplication, changes: Changes) -> int:
    """Save events in one transaction, proving the versions only read still current; return
    the highest position written. Once committed, the unit's aggregates go to the cache."""
    recordings = app.save(
        *changes.events,
        expected_versions=changes.expected_versions,
        server_generation=changes.server_generation,
    )
    take_snapshots(app, changes.events, changes.kinds)
    cache = app.aggregate_cache
    for aggregate in changes.aggregates:
        if not isinstance(aggregate, IdempotencyRecord):
            cache.offer(aggregate)
    return max(r.notification.id for r in recordings)


def encoded(
    app: CachedApplication,
    kind: type[Any],
    originator_id: UUID,
    version: int,
    state: dict[str, Any],
) -> StoredEvent:
    """A new event in its stored form straight from its fields, never built (for
    `save_encoded`): the bytes the mapper stores for it (storage/encode.py)."""
    return encode_new(app.events.mapper, kind, originator_id, version, state)


def save_encoded(app: CachedApplication, changes: Changes) -> int:
    """`save_events` for events already in their stored form (a register's bulk import,
    storage/encode.py), whose aggregates the caller caches itself."""
    positions = record_stored(
        app.events,
        changes.events,
        {
            "expected_versions": changes.expected_versions,
            "server_generation": changes.server_generation,
        },
    )
    take_snapshots(app, changes.events, changes.kinds)
    return max(positions)


def evict(app: CachedApplication, changes: Changes) -> None:
    """After a conflict: forget what the command touched, so its re-run reads the store."""
    app.aggregate_cache.evict(changes.touched)


def take_snapshots(
    app: CachedApplication, events: list[Any], kinds: dict[UUID, type[Aggregate]]
) -> None:
    """Snapshot long-lived aggregates at their interval (saving bare events skips the
    library's own snapshotting)."""
    intervals: Mapping[Any, int] = app.snapshotting_intervals  # looked up by kind or None
    for event in events:
        interval = intervals.get(kinds.get(event.originator_id))
        if interval and event.originator_version % interval == 0:
            app.take_snapshot(event.originator_id, version=event.originator_version)


def backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.001 * 2**attempt))


def prepare(
    app: CachedApplication, command: Command, *, optimistic: bool, trust_cache: bool
) -> tuple[Any, Changes]:
    """Run a command in its own unit of work. If it trusted the cache and then failed, or
    found nothing to do, its answer rests on copies nobody proved current: run it again
    against the store before answering."""
    uow = UnitOfWork(app, optimistic=optimistic, trust_cache=trust_cache)
    try:
        result = command(uow)
    except LedgerError:
        if not uow.trusted:
            raise
        return prepare(app, command, optimistic=optimistic, trust_cache=False)
    changes = uow.collect()
    if not changes.events and uow.trusted:
        return prepare(app, command, optimistic=optimistic, trust_cache=False)
    return result, changes


def run_alone(
    app: CachedApplication,
    command: Command,
    *,
    optimistic: bool = True,
    contended: threading.Lock | None = None,
) -> Outcome[Any]:
    """Run one command in its own transaction, re-running it on version conflicts. Re-runs
    hold `contended` (one lock per process), so threads that fought over one aggregate take
    turns instead of colliding again; only other processes can still conflict."""
    for attempt in range(MAX_ATTEMPTS):
        first = attempt == 0
        with contended if (contended is not None and not first) else nullcontext():
            result, changes = prepare(
                app, command, optimistic=optimistic and first, trust_cache=first
            )
            if not changes.events:
                return Outcome(result, 0)
            try:
                return Outcome(result, save_events(app, changes))
            except IntegrityError:
                evict(app, changes)  # someone else changed what we read: re-run on the store
        backoff(attempt)
    raise ConcurrentUpdateError(
        f"gave up after {MAX_ATTEMPTS} version conflicts", attempts=MAX_ATTEMPTS
    )


@dataclass
class _Pending:
    """One caller's work in the queue: prepared events, or a command to run under the lead."""

    changes: Changes | None = None
    command: Command | None = None
    done: bool = False
    conflict: bool = False
    outcome: Outcome[Any] | None = None
    error: BaseException | None = None

    def settle(
        self, outcome: Outcome[Any] | None = None, *, error: BaseException | None = None
    ) -> None:
        self.outcome, self.error, self.done = outcome, error, True

    def send_back(self) -> None:
        """Ask the caller to run the command again (its view was stale)."""
        self.outcome, self.error, self.conflict, self.done = None, None, True, True


class GroupCommitter:
    def __init__(self, app: CachedApplication, max_batch: int = MAX_BATCH) -> None:
        self.app = app
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self.batches = 0
        self.commands = 0
        self.sent_back = 0

    def run(self, command: Command) -> Outcome[Any]:
        for attempt in range(MAX_ATTEMPTS):
            if attempt == 0:
                result, changes = prepare(self.app, command, optimistic=True, trust_cache=True)
                if not changes.events:
                    return Outcome(result, 0)
                item = _Pending(changes=changes)
            else:
                item = _Pending(command=command)
            self._wait_for(item)
            if item.error is not None:
                raise item.error
            if not item.conflict:
                assert item.outcome is not None
                if item.command is None:
                    return Outcome(result, item.outcome.position)
                return item.outcome
            self.sent_back += 1
            backoff(attempt)
        raise ConcurrentUpdateError(
            f"gave up after {MAX_ATTEMPTS} version conflicts", attempts=MAX_ATTEMPTS
        )

    # --- leader / follower ---------------------------------------------------------------------
    def _wait_for(self, item: _Pending) -> None:
        with self._cond:
            self._queue.append(item)
            while self._leading and not item.done:
                self._cond.wait()
            if item.done:
                return
            self._leading = True
        try:
            while not item.done:
                with self._cond:
                    batch = self._queue[: self.max_batch]
                    del self._queue[: self.max_batch]
                self._run_batch(batch)
                with self._cond:
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()

    def _run_batch(self, batch: list[_Pending]) -> None:
        self.batches += 1
        self.commands += len(batch)
        try:
            self._save_prepared([i for i in batch if i.command is None])
            self._run_serialised([i for i in batch if i.command is not None])
        except BaseException as error:
            # Whatever escaped, no caller may wait forever for an item taken off the queue.
            for item in batch:
                if not item.done:
                    item.settle(error=error)
            raise

    # --- prepared events: one transaction ------------------------------------------------------
    def _save_prepared(self, items: list[_Pending]) -> None:
        chosen: list[_Pending] = []
        touched: set[UUID] = set()
        for item in items:
            assert item.changes is not None
            ids = set(item.changes.kinds)
            if ids & touched:
                item.send_back()  # read the same version as an earlier command of the batch
                continue
            touched |= ids
            chosen.append(item)
        if not chosen:
            return
        changes = Changes()
        for item in chosen:
            assert item.changes is not None
            changes.merge(item.changes)
        changes.finish()
        try:
            position = save_events(self.app, changes)
        except IntegrityError:
            self._save_each_alone(chosen)
            return
        except Exception as error:
            for item in chosen:
                item.settle(error=error)
            return
        for item in chosen:
            item.settle(Outcome(None, position))

    def _save_each_alone(self, items: list[_Pending]) -> None:
        for item in items:
            assert item.changes is not None
            try:
                item.settle(Outcome(None, save_events(self.app, item.changes)))
            except IntegrityError:
                evict(self.app, item.changes)
                item.send_back()
            except Exception as error:
                item.settle(error=error)

    # --- sent-back commands: serialised under the lead -----------------------------------------
    def _run_serialised(self, items: list[_Pending]) -> None:
        if not items:
            return
        shared = UnitOfWork(self.app)
        results: list[tuple[_Pending, Any]] = []
        for item in items:
            assert item.command is not None
            child = UnitOfWork(self.app, parent=shared)
            try:
                result = item.command(child)
            except Exception as error:
                child.roll_back()
                item.settle(error=error)
                continue
            child.merge_into_parent()
            results.append((item, result))
        changes = shared.collect()
        try:
            position = save_events(self.app, changes) if changes.events else 0
        except IntegrityError:
            evict(self.app, changes)
            # A conflict with another process: nobody here caused it, so send them all back
            # (the failed ones too: they saw the batch's effects).
            for item in items:
                item.send_back()
            return
        except Exception as error:
            for item, _ in results:
                item.settle(error=error)
            return
        for item, result in results:
            item.settle(Outcome(result, position))
