"""The Ledger application: the write side's one entry point.

Every public method parses its input at the edge (identifiers, amounts), builds a command and
runs it in one transaction: alone, or grouped with concurrent commands (group_commit.py). It
returns an `Outcome`: the command's result and the log position that includes it, which is
what read-your-writes waits for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording, Transcoder

from ledger.domain import Bill, Payment, PersonalAccount, Supplier, TopUp, Wallet
from ledger.domain.bill import BillLine
from ledger.domain.identifiers import parse_inn
from ledger.engine.aggregate_cache import AggregateCache
from ledger.engine.batch import BatchItem, run_batch
from ledger.engine.channel import WriterClient
from ledger.engine.command import OPERATOR_SCOPE
from ledger.engine.group_commit import GroupCommitter, Outcome, run_alone
from ledger.engine.unit_of_work import Command, UnitOfWork
from ledger.payments import handlers as payments
from ledger.payments.commands import (
    CancelPayment,
    ConfirmPayment,
    CreatePayment,
    OpenWallet,
    RefundPayment,
    RequestTopUp,
    SettleCardPayment,
    SettleTopUp,
)
from ledger.registry import handlers as registry
from ledger.registry.commands import (
    ChangeSupplierRequisites,
    ConfirmPayer,
    IssueBill,
    LinkPayer,
    OpenAccount,
    RegisterSupplier,
    WithdrawBill,
)
from storage.event_store import confirm_replicated, on_server_change, record_events
from storage.transcoder import OrjsonTranscoder

T = TypeVar("T")


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

    def use_writer(self, client: WriterClient) -> None:
        self.writer = client

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
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
    def execute(self, command: Command) -> Outcome:
        if self.writer is not None:
            outcome: Outcome = self.writer.execute(command)
        elif self._committer is not None:
            outcome = self._committer.run(command)
        else:
            outcome = run_alone(self, command, contended=self._contended)
        if not outcome.position:
            # Answered from what is stored (a replay): it may have been committed while no
            # standby confirmed anything, so it is acknowledged once one has it.
            confirm_replicated(self)
        return outcome

    def read(self, query: Callable[[UnitOfWork], T]) -> T:
        return query(UnitOfWork(self))

    # --- suppliers, accounts, bills: thin wrappers over the commands (registry_commands.py) ----
    def register_supplier(
        self,
        *,
        inn: str,
        kpp: str,
        name: str,
        requisites: dict[str, str],
        idempotency_key: str,
        scope: str = OPERATOR_SCOPE,
    ) -> Outcome:
        return self.execute(
            RegisterSupplier.parse(
                inn=inn,
                kpp=kpp,
                name=name,
                requisites=requisites,
                idempotency_key=idempotency_key,
                caller_scope=scope,
            )
        )

    def change_supplier_requisites(
        self,
        *,
        supplier_id: UUID,
        requisites: dict[str, str],
        idempotency_key: str,
        scope: str = OPERATOR_SCOPE,
    ) -> Outcome:
        return self.execute(
            ChangeSupplierRequisites.parse(
                supplier_id=supplier_id,
                requisites=requisites,
                idempotency_key=idempotency_key,
                caller_scope=scope,
            )
        )

    def open_account(
        self,
        *,
        supplier_id: UUID,
        account_number: str,
        address: str,
        els: str | None = None,
        idempotency_key: str,
        scope: str = OPERATOR_SCOPE,
    ) -> Outcome:
        return self.execute(
            OpenAccount.parse(
                supplier_id=supplier_id,
                account_number=account_number,
                address=address,
                els=els,
                idempotency_key=idempotency_key,
                caller_scope=scope,
            )
        )

    def link_payer(
        self,
        *,
        payer_id: str,
        supplier_inn: str,
        account_number: str,
        idempotency_key: str | None = None,
        document_id: str | None = None,
    ) -> Outcome:
        """See `LinkPayer`: naturally idempotent; the ИПД of a current bill proves possession."""
        return self.execute(
            LinkPayer.parse(
                payer_id=payer_id,
                supplier_inn=supplier_inn,
                account_number=account_number,
                idempotency_key=idempotency_key,
                document_id=document_id,
            )
        )

    def confirm_payer(
        self,
        *,
        account_id: UUID,
        payer_id: str,
        idempotency_key: str,
        scope: str = OPERATOR_SCOPE,
    ) -> Outcome:
        """An operator's confirmation that the payer holds the account (a proven link)."""
        return self.execute(
            ConfirmPayer.parse(
                account_id=account_id,
                payer_id=payer_id,
                idempotency_key=idempotency_key,
                caller_scope=scope,
            )
        )

    def issue_bill(
        self,
        *,
        account_id: UUID,
        document_id: str,
        period: str,
        lines: list[BillLine],
        due_date: str,
        uin: str | None = None,
        replaces: UUID | None = None,
        idempotency_key: str,
        scope: str = OPERATOR_SCOPE,
    ) -> Outcome:
        return self.execute(
            IssueBill.parse(
                account_id=account_id,
                document_id=document_id,
                period=period,
                lines=lines,
                due_date=due_date,
                uin=uin,
                replaces=replaces,
                idempotency_key=idempotency_key,
                caller_scope=scope,
            )
        )

    def withdraw_bill(self, *, bill_id: UUID, reason: str) -> Outcome:
        return self.execute(WithdrawBill(bill_id=bill_id, reason=reason))

    # --- wallets, top-ups and payments: wrappers over ledger/payments/commands.py ---
    def open_wallet(self, *, payer_id: str, idempotency_key: str) -> Outcome:
        return self.execute(OpenWallet(payer_id=payer_id, idempotency_key=idempotency_key))

    def request_top_up(self, **fields: Any) -> Outcome:
        """See `RequestTopUp`: wallet_id, payer_id, amount, idempotency_key."""
        return self.execute(RequestTopUp(**fields))

    def settle_top_up(self, **fields: Any) -> Outcome:
        """See `SettleTopUp`: top_up_id, succeeded, amount, acquirer_ref."""
        return self.execute(SettleTopUp(**fields))

    def create_payment(self, **fields: Any) -> Outcome:
        """Pay a personal account, by its id or by the supplier's requisites (ИНН + number);
        see `CreatePayment.parse` for the fields."""
        return self.execute(CreatePayment.parse(**fields))

    def confirm_payment(self, *, payment_id: UUID, payer_id: str, idempotency_key: str) -> Outcome:
        return self.execute(
            ConfirmPayment(
                payment_id=payment_id, payer_id=payer_id, idempotency_key=idempotency_key
            )
        )

    def settle_card_payment(self, **fields: Any) -> Outcome:
        """See `SettleCardPayment`: payment_id, succeeded, amount, acquirer_ref."""
        return self.execute(SettleCardPayment(**fields))

    def cancel_payment(
        self, *, payment_id: UUID, payer_id: str, idempotency_key: str, reason: str = "requested"
    ) -> Outcome:
        return self.execute(
            CancelPayment(
                payment_id=payment_id,
                payer_id=payer_id,
                idempotency_key=idempotency_key,
                reason=reason,
            )
        )

    def refund_payment(
        self, *, payment_id: UUID, amount: int, idempotency_key: str, scope: str = OPERATOR_SCOPE
    ) -> Outcome:
        return self.execute(
            RefundPayment(
                payment_id=payment_id,
                amount=amount,
                idempotency_key=idempotency_key,
                caller_scope=scope,
            )
        )

    # --- many commands in one transaction ------------------------------------------------------
    def execute_batch(self, commands: Sequence[Command]) -> list[BatchItem]:
        """Save up to `MAX_BATCH_COMMANDS` independent commands in ONE transaction; each gets
        its own outcome or its own named error (see ledger/engine/batch.py)."""
        if self.writer is not None:
            return self.writer.execute_batch(commands)  # type: ignore[no-any-return]
        return self.execute_batch_here(commands)

    def execute_batch_here(
        self, commands: Sequence[Command], *, prefetch_keys: bool = True
    ) -> list[BatchItem]:
        """Run the batch in this process, whatever `writer` says: the writer's own loop
        (ledger/engine/writer.py) calls this."""
        return run_batch(self, commands, prefetch_keys=prefetch_keys)

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
