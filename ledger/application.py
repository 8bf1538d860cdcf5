"""The Ledger application: the write side's one entry point.

The edge builds a command (a frozen dataclass of `ledger/*/commands.py`, parsed once) and calls
`execute(command)`: its one handler runs in one transaction, alone or grouped with concurrent
commands (group_commit.py). It returns an `Outcome[R]`: the command's typed result and the log
position that includes it, which is what read-your-writes waits for.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording, Transcoder

from ledger.domain import Bill, Payment, PersonalAccount, Supplier, TopUp, Wallet
from ledger.domain.identifiers import parse_inn
from ledger.engine.aggregate_cache import AggregateCache
from ledger.engine.batch import BatchItem, run_batch
from ledger.engine.channel import WriterClient
from ledger.engine.channel_async import AsyncWriterClient
from ledger.engine.command import Command, Handlers
from ledger.engine.group_commit import GroupCommitter, Outcome, run_alone
from ledger.engine.unit_of_work import UnitOfWork
from ledger.notices import handlers as notices
from ledger.notices.bulk import is_notice_batch, run_notice_batch
from ledger.payments import cards
from ledger.payments import handlers as payments
from ledger.registry import handlers as registry
from storage.event_store import confirm_replicated, on_server_change, record_events
from storage.transcoder import OrjsonTranscoder

T = TypeVar("T")
R = TypeVar("R", bound=Mapping[str, Any])

HANDLERS = Handlers()
for context in (payments, cards, registry, notices):
    HANDLERS.merge(context.HANDLERS)


class Ledger(Application[UUID]):
    name = "kvit"
    # Aggregates are cached per process by `aggregate_cache` (not the library's cache, which
    # fast-forwards with a SELECT on every get): commands trust it and their saves prove it.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        PersonalAccount: 200,
        Wallet: 200,
        Supplier: 50,
    }

    def __init__(self, env: dict[str, str] | None = None, *, group_commit: bool = True) -> None:
        super().__init__(env)
        self.aggregate_cache = AggregateCache()
        # After a failover, copies read from the old primary may hold what it lost.
        on_server_change(self, self.aggregate_cache.clear)
        self._committer = GroupCommitter(self) if group_commit else None
        self._contended = threading.Lock()
        self.writer: WriterClient | None = None
        """Set in `kvit serve`'s workers: commands run in the writer process (engine/writer.py)."""
        self.async_writer: AsyncWriterClient | None = None
        """The same writer, for callers on an event loop (`execute_async`)."""

    def use_writer(self, client: WriterClient) -> None:
        self.writer = client
        self.async_writer = AsyncWriterClient(client.path, timeout=client.timeout)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.async_writer is not None:
            self.async_writer.close()
        super().close()

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON, written and read by orjson: the same stored bytes, both ways
        (storage/transcoder.py)."""
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, minus its runtime `Protocol` check on every object (an eighth
        of a large batch's CPU in the profile) when Kvit hands it bare events, as it always
        does. Aggregates still take the library's own path."""
        if any(isinstance(obj, Aggregate) for obj in objs):
            return super().save(*objs, **kwargs)
        return record_events(self, objs, kwargs)

    # --- running commands ----------------------------------------------------------------------
    def execute(self, command: Command[R]) -> Outcome[R]:
        """Run the command's handler in one transaction; a keyed command once per key. With a
        writer, the command itself goes over the channel and the writer binds its handler."""
        if self.writer is not None:
            outcome: Outcome[R] = self.writer.execute(command)
        elif self._committer is not None:
            outcome = self._committer.run(HANDLERS.bind(command))
        else:
            outcome = run_alone(self, HANDLERS.bind(command), contended=self._contended)
        if not outcome.position:
            # Answered from what is stored (a replay): it may have been committed while no
            # standby confirmed anything, so it is acknowledged once one has it.
            confirm_replicated(self)
        return outcome

    async def execute_async(self, command: Command[R]) -> Outcome[R]:
        """`execute` for a caller on an event loop, with a writer (`async_writer` is set): the
        command crosses the channel on the loop itself, no thread held while it runs."""
        assert self.async_writer is not None, "no writer: run `execute` in a thread"
        outcome: Outcome[R] = await self.async_writer.execute(command)
        if not outcome.position:  # a replay (see `execute`): rare, and a query at most
            await asyncio.to_thread(confirm_replicated, self)
        return outcome

    def read(self, query: Callable[[UnitOfWork], T]) -> T:
        return query(UnitOfWork(self))

    # --- many commands in one transaction ------------------------------------------------------
    def execute_batch(self, commands: Sequence[Command[Any]]) -> list[BatchItem]:
        """Save up to `MAX_BATCH_COMMANDS` independent commands in ONE transaction; each gets
        its own outcome or its own named error (see ledger/engine/batch.py)."""
        if self.writer is not None:
            return self.writer.execute_batch(commands)  # type: ignore[no-any-return]
        return self.execute_batch_here(commands)

    def execute_batch_here(
        self, commands: Sequence[Command[Any]], *, prefetch_keys: bool = True
    ) -> list[BatchItem]:
        """Run the batch in this process, whatever `writer` says: the writer's own loop
        (ledger/engine/writer.py) calls this; each command's handler is bound here. A batch of
        bank notices alone (a register) is decided in bulk: the same outcomes, a fraction of
        the cost (ledger/notices/bulk.py)."""
        if is_notice_batch(commands):
            return run_notice_batch(self, commands)  # type: ignore[arg-type]
        bound = [HANDLERS.bind(command) for command in commands]
        return run_batch(self, bound, prefetch_keys=prefetch_keys)

    # --- reads (current state of one aggregate) ------------------------------------------------
    def get_supplier(self, supplier_id: UUID) -> Supplier:
        return self.read(lambda uow: registry.get_supplier(uow, supplier_id))

    def find_supplier_by_inn(self, inn: str) -> Supplier:
        return self.get_supplier(Supplier.id_for(parse_inn(inn)))

    def get_account(self, account_id: UUID) -> PersonalAccount:
        return self.read(lambda uow: registry.get_account(uow, account_id))

    def get_bill(self, bill_id: UUID) -> Bill:
        return self.read(lambda uow: registry.get_bill(uow, bill_id))

    def get_wallet(self, wallet_id: UUID, *, payer_id: str | None = None) -> Wallet:
        return self.read(lambda uow: payments.get_wallet(uow, wallet_id, payer_id=payer_id))

    def get_payment(self, payment_id: UUID, *, payer_id: str | None = None) -> Payment:
        return self.read(lambda uow: payments.get_payment(uow, payment_id, payer_id=payer_id))

    def get_top_up(self, top_up_id: UUID) -> TopUp:
        return self.read(lambda uow: payments.get_top_up(uow, top_up_id))
