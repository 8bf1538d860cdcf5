"""Wallet (виртуальный кошелёк): a payer's prepaid balance, never below zero."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.read import EventRead, UuidOrText
from ledger.errors import InsufficientFundsError


class Wallet(Aggregate):
    TOPIC = "kvit.wallet"

    class Created(Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.wallet.created"

    class Opened(Created):
        TOPIC = "kvit.wallet.opened"
        payer_id: str

        class Read(EventRead, Protocol):
            payer_id: str

    @event(Opened)
    def __init__(self, *, id: UUID, payer_id: str) -> None:
        self.payer_id = payer_id
        self.balance = 0

    def credit(self, *, operation_id: UUID, amount: int) -> None:
        """Top-ups and refunds of wallet payments. (A positive amount: the Ledger checks it as
        it takes it, `ledger/amounts.check_amount`, and the same command's postings refuse any
        other, `ledger/postings.transfer`.)"""
        self._credited(operation_id=operation_id, amount=amount)

    class Credited(Aggregate.Event):
        TOPIC = "kvit.wallet.credited"
        operation_id: UUID
        amount: int

        class Read(EventRead, Protocol):
            operation_id: UuidOrText
            amount: int

    @event(Credited)
    def _credited(self, *, operation_id: UUID, amount: int) -> None:
        self.balance += amount

    def debit(self, *, payment_id: UUID, amount: int) -> None:
        if amount > self.balance:
            raise InsufficientFundsError(
                f"wallet {self.id} holds {self.balance}, payment needs {amount}",
                wallet_id=str(self.id),
                balance=self.balance,
                amount=amount,
            )
        self._debited(payment_id=payment_id, amount=amount)

    class Debited(Aggregate.Event):
        TOPIC = "kvit.wallet.debited"
        payment_id: UUID
        amount: int

        class Read(EventRead, Protocol):
            payment_id: UuidOrText
            amount: int

    @event(Debited)
    def _debited(self, *, payment_id: UUID, amount: int) -> None:
        self.balance -= amount
