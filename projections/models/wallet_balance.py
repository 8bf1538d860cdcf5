"""Wallet balance: what each wallet holds, credited and debited, from the wallet's events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ledger.domain import Wallet
from projections.batch import Batch
from projections.models.base import ReadModel, applies
from projections.tables import WALLET, Table
from storage.log import Logged

OPENED = Wallet.Opened.TOPIC


class WalletBalance(ReadModel):
    name = "wallet_balance"
    tables: ClassVar[tuple[Table, ...]] = (WALLET,)

    def prefetch(self, batch: Batch, events: Sequence[Logged]) -> None:
        opened = {e.originator_id for e in events if e.topic == OPENED}
        batch.assume_new(WALLET, opened)
        batch.load(WALLET, (e.originator_id for e in events))

    @applies(Wallet.Opened)
    def opened(self, batch: Batch, logged: Logged) -> None:
        event: Wallet.Opened.Read = logged.event
        batch.put(
            WALLET,
            {
                "wallet_id": logged.originator_id,
                "payer_id": event.payer_id,
                "balance": 0,
                "credited": 0,
                "debited": 0,
                "position": logged.position,
            },
        )

    @applies(Wallet.Credited)
    def credited(self, batch: Batch, logged: Logged) -> None:
        event: Wallet.Credited.Read = logged.event
        row = batch.need(WALLET, logged.originator_id)
        row["credited"] += event.amount
        row["balance"] += event.amount
        row["position"] = logged.position
        batch.put(WALLET, row)

    @applies(Wallet.Debited)
    def debited(self, batch: Batch, logged: Logged) -> None:
        event: Wallet.Debited.Read = logged.event
        row = batch.need(WALLET, logged.originator_id)
        row["debited"] += event.amount
        row["balance"] -= event.amount
        row["position"] = logged.position
        batch.put(WALLET, row)
