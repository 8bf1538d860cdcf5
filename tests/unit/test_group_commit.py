"""Group commit: concurrent commands share a transaction but keep their own results and errors."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.errors import ConcurrentUpdateError, InsufficientFundsError
from ledger.group_commit import MAX_ATTEMPTS, GroupCommitter, run_alone
from ledger.money import get_wallet
from ledger.unit_of_work import UnitOfWork
from tests.fixtures import setup_world


def test_a_failing_command_in_a_batch_leaves_the_others_intact(memory_ledger: Ledger) -> None:
    world = setup_world(memory_ledger, wallet_balance=1_000)
    committer = GroupCommitter(memory_ledger)
    # Hold the lead so that the commands below queue up and run as one batch.
    release = threading.Event()
    blocker = threading.Thread(target=committer.run, args=(lambda uow: release.wait(),))
    blocker.start()
    while not committer._leading:
        time.sleep(0.001)

    def debit(key: str, amount: int) -> object:
        def command(uow: UnitOfWork) -> int:
            wallet = get_wallet(uow, world.wallet_id)
            wallet.debit(payment_id=UUID(int=len(key)), amount=amount)
            return wallet.balance

        try:
            return committer.run(command).result
        except InsufficientFundsError as error:
            return error

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(debit, "a" * (i + 1), 400) for i in range(3)]
        while len(committer._queue) < 3:
            time.sleep(0.001)
        release.set()
        outcomes = [f.result() for f in futures]
    blocker.join()

    assert sorted(o for o in outcomes if isinstance(o, int)) == [200, 600]
    assert sum(isinstance(o, InsufficientFundsError) for o in outcomes) == 1
    assert memory_ledger.get_wallet(world.wallet_id).balance == 200
    assert committer.batches == 2  # the blocker alone, then the three together


def test_version_conflicts_are_retried_a_bounded_number_of_times(memory_ledger: Ledger) -> None:
    world = setup_world(memory_ledger, wallet_balance=1_000)
    attempts = []

    def always_conflicting(uow: UnitOfWork) -> None:
        attempts.append(1)
        get_wallet(uow, world.wallet_id).credit(operation_id=UUID(int=1), amount=1)
        # Another writer changes the same wallet before we save.
        memory_ledger.execute(
            lambda other: get_wallet(other, world.wallet_id).credit(
                operation_id=UUID(int=2), amount=1
            )
        )

    with pytest.raises(ConcurrentUpdateError):
        run_alone(memory_ledger, always_conflicting)
    assert len(attempts) == MAX_ATTEMPTS
