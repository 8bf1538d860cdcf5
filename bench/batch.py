"""Batch writes: commands per second when a register of N commands is saved in one transaction.

Two kinds of simple command, each with its idempotency record: a card payment created for a
personal account (2 events), and a wallet payment confirmed at once (6 events: the payment's
three, the wallet debit, the account's receipt, the key). Payers and accounts are spread so a
register is a realistic mix of many accounts, and the same aggregates recur within a batch.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from bench.payments import throwaway_ledger
from bench.world import fund_wallets, open_accounts, register_supplier

AMOUNT = 100


@dataclass
class BatchResult:
    kind: str
    batch_size: int
    runs: list[float] = field(default_factory=list)  # commands per second
    cpu_us: list[float] = field(default_factory=list)  # this process's CPU per command

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "batch_size": self.batch_size,
            "commands_per_second_median": round(self.median, 1),
            "commands_per_second_runs": [round(r, 1) for r in self.runs],
            "cpu_us_per_command_median": round(statistics.median(self.cpu_us), 1),
        }


def measure_batches(
    url: str, *, batch_size: int, batches: int, repeats: int, accounts: int = 200
) -> list[BatchResult]:
    from ledger.payments.commands import (
        CreatePayment,  # here: the bench also runs code from before it
    )

    with throwaway_ledger(url, group_commit=True) as ledger:
        supplier_id = register_supplier(ledger)
        pool = open_accounts(ledger, supplier_id, accounts, label="batch")
        payers = [f"batch-w{w}" for w in range(accounts)]
        wallets = fund_wallets(
            ledger, payers, balance=AMOUNT * batch_size * batches * (repeats + 1)
        )
        card = BatchResult("card payment created (2 events)", batch_size)
        wallet = BatchResult("wallet payment, confirm (6 events)", batch_size)
        serial = 0

        def register(confirm: bool) -> list[CreatePayment]:
            nonlocal serial
            commands = []
            for _ in range(batch_size):
                serial += 1
                w = wallets[serial % len(wallets)]
                commands.append(
                    CreatePayment(
                        payer_id=w.payer_id,
                        account_id=pool[serial % len(pool)],
                        method="wallet" if confirm else "card",
                        wallet_id=w.wallet_id if confirm else None,
                        amount=AMOUNT,
                        confirm=confirm,
                        idempotency_key=f"batch-{serial}",
                    )
                )
            return commands

        def timed(result: BatchResult, confirm: bool) -> None:
            registers = [register(confirm) for _ in range(batches)]  # built untimed
            began, cpu = time.perf_counter(), time.process_time()
            for commands in registers:
                items = ledger.execute_batch(commands)
                failed = [item.error for item in items if item.error is not None]
                if failed:  # a benchmark that silently stops moving money would look fast
                    raise RuntimeError(f"{len(failed)} commands failed, first: {failed[0]!r}")
            count = batch_size * batches
            result.runs.append(count / (time.perf_counter() - began))
            result.cpu_us.append((time.process_time() - cpu) / count * 1e6)

        timed(BatchResult("warm-up", batch_size), False)  # connections, caches, statements
        for _ in range(repeats):
            timed(card, False)
            timed(wallet, True)
        return [card, wallet]
