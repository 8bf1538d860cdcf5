"""The ledger state machine with two writers on one store, as two API workers are.

Each Ledger instance trusts its own aggregate cache; hypothesis decides when the steps move to
the other instance, so every step may run on copies the other writer has made stale. The same
model and invariants as `test_ledger_state_machine.py` must hold: a stale copy is caught by the
save (or re-checked on a domain error) and the command re-runs against the store.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import rule

from ledger.bootstrap import build_ledger, migrate
from ledger.settings import Settings
from tests.property.test_ledger_state_machine import LedgerMachine


class TwoWritersMachine(LedgerMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger.close()  # the in-memory one: two writers need a shared store
        self.tmp = Path(tempfile.mkdtemp(prefix="kvit-two-writers-"))
        store = Settings(data_dir=self.tmp, database_url=None)
        migrate(store)
        self.writers = [build_ledger(store), build_ledger(store)]
        self.ledger = self.writers[0]

    @rule()
    def switch_writer(self) -> None:
        self.ledger = self.writers[1] if self.ledger is self.writers[0] else self.writers[0]

    @rule(
        target=LedgerMachine.payments,
        wallet=LedgerMachine.wallets,
        account=LedgerMachine.accounts,
        amount=st.integers(1, 50_000),
    )
    def top_up_elsewhere_then_pay_it_all_here(
        self, wallet: UUID, account: UUID, amount: int
    ) -> Any:
        """Steered at the cache: this writer's copy of the wallet is older than the top-up."""
        here, elsewhere = (
            self.ledger,
            self.writers[1] if self.ledger is self.writers[0] else self.writers[0],
        )
        self.ledger = elsewhere
        top_up = self.request_top_up(wallet, amount)
        self.settle_top_up(top_up, True)
        self.ledger = here
        return self.create_payment(account, wallet, "wallet", self.model.wallets[wallet][1], True)

    def teardown(self) -> None:
        try:
            self.replay_reproduces_state()
        finally:
            for writer in self.writers:
                writer.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


TwoWritersMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestTwoWritersStateMachine = TwoWritersMachine.TestCase
