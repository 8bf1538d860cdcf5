"""Group commit: concurrent commands share a transaction but keep their own results and errors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.engine.group_commit import MAX_ATTEMPTS, GroupCommitter, run_alone
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import ConcurrentUpdateError, InsufficientFundsError
from ledger.payments.commands import OpenWallet
from ledger.payments.handlers import get_wallet
from tests.fixtures import setup_world


def debit(wallet_id: UUID, amount: int) -> Callable[[UnitOfWork], int]:
    def command(uow: UnitOfWork) -> int:
        wallet = get_wallet(uow, wallet_id)
        wallet.debit(payment_id=uuid4(), amount=amount)
        return wallet.balance

    return command


def attempt(committer: GroupCommitter, command: Callable[[UnitOfWork], Any]) -> Any:
    try:
        return committer.run(command).result
    except InsufficientFundsError as error:
        return error


def test_contention_on_one_wallet_waits_its_turn_instead_of_failing(
    memory_ledger: Ledger,
) -> None:
    world = setup_world(memory_ledger, wallet_balance=1_000)
    committer = GroupCommitter(memory_ledger)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(lambda _: attempt(committer, debit(world.wallet_id, 100)), range(12))
        )

    assert sum(isinstance(o, int) for o in outcomes) == 10
    assert sum(isinstance(o, InsufficientFundsError) for o in outcomes) == 2
    assert memory_ledger.get_wallet(world.wallet_id).balance == 0


def test_commands_queued_during_a_save_share_the_next_transaction(
    memory_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallets = [
        UUID(
            memory_ledger.execute(OpenWallet(payer_id=f"w{i}", idempotency_key="w")).result[
                "wallet_id"
            ]
        )
        for i in range(6)
    ]
    for wallet_id in wallets:
        run_alone(
            memory_ledger,
            lambda uow, w=wallet_id: get_wallet(uow, w).credit(operation_id=uuid4(), amount=500),
        )
    committer = GroupCommitter(memory_ledger)
    saves: list[int] = []
    first_save_started, release = threading.Event(), threading.Event()
    original_save = memory_ledger.save

    def slow_first_save(*events: Any, **kwargs: Any) -> Any:
        saves.append(len(events))
        if len(saves) == 1:
            first_save_started.set()
            release.wait(5)
        return original_save(*events, **kwargs)

    monkeypatch.setattr(memory_ledger, "save", slow_first_save)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(committer.run, debit(wallets[0], 100))
        first_save_started.wait(5)
        rest = [pool.submit(committer.run, debit(w, 100)) for w in wallets[1:]]
        while len(committer._queue) < len(rest):
            threading.Event().wait(0.001)
        release.set()
        results = [f.result().result for f in [first, *rest]]

    assert results == [400] * 6
    assert len(saves) == 2  # the first alone, then the five that queued meanwhile


def test_a_failing_command_leaves_the_rest_of_its_batch_intact(memory_ledger: Ledger) -> None:
    world = setup_world(memory_ledger, wallet_balance=1_000)
    committer = GroupCommitter(memory_ledger)

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(
            pool.map(lambda a: attempt(committer, debit(world.wallet_id, a)), [400, 400, 400])
        )

    assert sorted(o for o in outcomes if isinstance(o, int)) == [200, 600]
    assert sum(isinstance(o, InsufficientFundsError) for o in outcomes) == 1
    assert memory_ledger.get_wallet(world.wallet_id).balance == 200


def test_version_conflicts_are_retried_a_bounded_number_of_times(memory_ledger: Ledger) -> None:
    world = setup_world(memory_ledger, wallet_balance=1_000)
    attempts = []

    def always_conflicting(uow: UnitOfWork) -> None:
        attempts.append(1)
        get_wallet(uow, world.wallet_id).credit(operation_id=UUID(int=1), amount=1)
        # Another writer changes the same wallet before we save.
        run_alone(
            memory_ledger,
            lambda other: get_wallet(other, world.wallet_id).credit(
                operation_id=UUID(int=2), amount=1
            ),
        )

    with pytest.raises(ConcurrentUpdateError):
        run_alone(memory_ledger, always_conflicting)
    assert len(attempts) == MAX_ATTEMPTS
