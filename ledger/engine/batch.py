"""Many independent commands in ONE transaction, each with its own result or its own error.

For registers (a bank's notices, a supplier's bills): up to `MAX_BATCH_COMMANDS` commands run
one after another, each in a child unit of work, so one that raises a `LedgerError` leaves the
batch exactly as it was and only that command reports its error. What the others did is saved
in one `save()`. The first attempt trusts the aggregate cache and assumes idempotency keys are
new; if the save meets a conflict (a stale copy, a replayed key, another process), the batch is
re-run against the store with every idempotency record fetched in one query, a bounded number
of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger.engine.group_commit import MAX_ATTEMPTS, Outcome, backoff, evict, save_events
from ledger.engine.prefetch import prefetch
from ledger.engine.unit_of_work import CachedApplication, Command, UnitOfWork
from ledger.errors import BatchTooLargeError, ConcurrentUpdateError, LedgerError

MAX_BATCH_COMMANDS = 5_000


@dataclass
class BatchItem:
    """One command's answer: its outcome, or the named error it raised (never both)."""

    outcome: Outcome[Any] | None = None
    error: LedgerError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_batch(
    app: CachedApplication, commands: Sequence[Command], *, prefetch_keys: bool = True
) -> list[BatchItem]:
    """`prefetch_keys=False`: assume every key new on the first attempt (the writer's batches
    of concurrent requests, which are rarely replays; a replay fails the save and re-runs)."""
    check_size(commands)
    for attempt in range(MAX_ATTEMPTS):
        first = attempt == 0
        shared = UnitOfWork(app, optimistic=first, trust_cache=first)
        # One query for every command's record, on the first attempt too: in a batch it costs
        # one round trip for thousands of commands, and registers re-send lines often enough
        # that assuming them new would re-run nearly every batch.
        if prefetch_keys or not first:
            prefetch(shared, [getattr(c, "record_id", None) for c in commands])
        results = [_run_one(app, shared, command) for command in commands]
        changes = shared.collect()
        try:
            position = save_events(app, changes) if changes.events else 0
        except IntegrityError:
            evict(app, changes)
            backoff(attempt)
            continue
        return [
            BatchItem(error=r) if isinstance(r, LedgerError) else BatchItem(Outcome(r, position))
            for r in results
        ]
    raise ConcurrentUpdateError(
        f"gave up after {MAX_ATTEMPTS} version conflicts", attempts=MAX_ATTEMPTS
    )


def check_size(commands: Sequence[Any]) -> None:
    if len(commands) > MAX_BATCH_COMMANDS:
        raise BatchTooLargeError(
            f"a batch holds at most {MAX_BATCH_COMMANDS} commands, got {len(commands)}",
            limit=MAX_BATCH_COMMANDS,
            size=len(commands),
        )


def _run_one(app: CachedApplication, shared: UnitOfWork, command: Command) -> Any:
    child = UnitOfWork(app, parent=shared)
    try:
        result = command(child)
    except LedgerError as error:
        child.roll_back()
        if not child.trusted:
            return error
        # The error may come from a stale cached copy: decide it again on the store.
        # (Aggregates earlier commands changed stay: the batch's save proves their base.)
        shared.forget(child.trusted_ids - set(shared.aggregates))
        child = UnitOfWork(app, parent=shared, trust_cache=False)
        try:
            result = command(child)
        except LedgerError as again:
            child.roll_back()
            return again
    child.merge_into_parent()
    return result
