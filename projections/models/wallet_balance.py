"""Wallet balance: what each wallet holds, credited and debited, from the wallet's events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ledger.domain import Wallet
from projections.models.base import ReadModel, applies
from projections.staged import StagedRows
from projections.tables import WALLET, Table
from storage.log import Logged

OPENED = Wallet.Opened.TOPIC


class WalletBalance(ReadModel):
    name = "wallet_balance"
    tables: ClassVar[tuple[Table, ...]] = (WALLET,)

    def prefetch(self, staged: StagedRows, events: Sequence[Logged]) -> None:
        opened = {e.originator_id for e in events if e.topic == OPENED}
        staged.assume_new(WALLET, opened)
        staged.load(WALLET, (e.originator_id for e in events))

    @applies(Wallet.Opened)
    def opened(self, staged: StagedRows, logged: Logged) -> None:
        event: Wallet.Opened.Read = logged.event
        staged.put(
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
    def credited(self, staged: StagedRows, logged: Logged) -> None:
        event: Wallet.Credited.Read = logged.event
        row = staged.need(WALLET, logged.originator_id)
        row["credited"] += event.amount
        row["balance"] += event.amount
        row["position"] = logged.position
        staged.put(WALLET, row)

    @applies(Wallet.Debited)
    def debited(self, staged: StagedRows, logged: Logged) -> None:
        event: Wallet.Debited.Read = logged.event
        row = staged.need(WALLET, logged.originator_id)
        row["debited"] += event.amount
        row["balance"] -= event.amount
        row["position"] = logged.position
        staged.put(WALLET, row)
