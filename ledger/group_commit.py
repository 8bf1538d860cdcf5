"""Running commands: alone with bounded retries, or many in one transaction (group commit).

The event store serialises writers on a table lock, so one `save()` per commit is the ceiling.
Group commit lifts it: commands submitted while a save is under way queue up, and the next
leader runs the whole queue in one unit of work and saves it in one transaction. Each command
still gets its own result or its own error:

- every command runs in a child unit of work; one that raises is discarded and its caller gets
  the error, while the others go on;
- if the shared save meets a version conflict (another process wrote one of the aggregates),
  every command of the batch is re-run alone, so no caller sees a conflict it did not cause.

Leader/follower, no extra thread: the first caller to find no leader becomes the leader, runs
batches until its own command is done, then hands the lead to a waiting caller.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from ledger.errors import ConcurrentUpdateError
from ledger.unit_of_work import Command, UnitOfWork

MAX_ATTEMPTS = 8
MAX_BATCH = 128


@dataclass
class Outcome:
    """What one command produced, and the log position that includes it (0 if nothing saved)."""

    result: Any
    position: int


def save_unit(app: Application[UUID], uow: UnitOfWork) -> int:
    """Save every changed aggregate in one transaction; return the highest position written."""
    pending = uow.pending()
    if not pending:
        return 0
    recordings = app.save(*pending)
    return max(r.notification.id for r in recordings)


def run_alone(app: Application[UUID], command: Command) -> Outcome:
    """Run one command in its own transaction, re-running it on version conflicts."""
    for attempt in range(MAX_ATTEMPTS):
        uow = UnitOfWork(app)
        result = command(uow)
        try:
            return Outcome(result, save_unit(app, uow))
        except IntegrityError:
            # Someone else changed an aggregate we read: reload everything and re-run.
            time.sleep(random.uniform(0, 0.002 * 2**attempt))
    raise ConcurrentUpdateError(
        f"gave up after {MAX_ATTEMPTS} version conflicts", attempts=MAX_ATTEMPTS
    )


@dataclass
class _Pending:
    command: Command
    done: bool = False
    outcome: Outcome | None = None
    error: BaseException | None = None

    def settle(self, outcome: Outcome | None = None, error: BaseException | None = None) -> None:
        self.outcome, self.error, self.done = outcome, error, True


class GroupCommitter:
    def __init__(self, app: Application[UUID], max_batch: int = MAX_BATCH) -> None:
        self.app = app
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self.batches = 0
        self.commands = 0

    def run(self, command: Command) -> Outcome:
        item = _Pending(command)
        with self._cond:
            self._queue.append(item)
            while self._leading and not item.done:
                self._cond.wait()
            if not item.done:
                self._leading = True
        if not item.done:
            self._lead_until_done(item)
        if item.error is not None:
            raise item.error
        assert item.outcome is not None
        return item.outcome

    def _lead_until_done(self, mine: _Pending) -> None:
        try:
            while not mine.done:
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
        if len(batch) == 1:
            self._run_each_alone(batch)
            return
        shared = UnitOfWork(self.app)
        results: list[tuple[_Pending, Any]] = []
        failures: list[tuple[_Pending, BaseException]] = []
        for item in batch:
            child = UnitOfWork(self.app, parent=shared)
            try:
                result = item.command(child)
            except Exception as error:
                failures.append((item, error))
                continue
            child.merge_into_parent()
            results.append((item, result))
        try:
            position = save_unit(self.app, shared)
        except IntegrityError:
            # A conflict with another writer: nobody in the batch caused it, so re-run each
            # command alone (the failed ones too, since they saw the batch's effects).
            self._run_each_alone(batch)
            return
        except Exception as error:
            for item in batch:
                item.settle(error=error)
            return
        for item, result in results:
            item.settle(Outcome(result, position))
        for item, failure in failures:
            item.settle(error=failure)

    def _run_each_alone(self, batch: list[_Pending]) -> None:
        for item in batch:
            try:
                item.settle(run_alone(self.app, item.command))
            except Exception as error:
                item.settle(error=error)
