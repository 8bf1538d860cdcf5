"""Concurrency on real PostgreSQL: nothing lost or doubled under contention and retries."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.domain.postings import postings_of
from ledger.errors import InsufficientFundsError
from ledger.payments.commands import CreatePayment
from ledger.settings import Settings
from storage.log import iter_events
from tests.fixtures import World, setup_world, wallet_payment

THREADS = 8


def pay_from_wallet(ledger: Ledger, world: World, key: str, amount: int) -> str:
    try:
        outcome = ledger.execute(wallet_payment(world, key, amount=amount))
    except InsufficientFundsError:
        return "insufficient"
    return str(outcome.result["status"])


@pytest.fixture
def second_process_ledger(pg_settings: Settings) -> Iterator[Ledger]:
    """A second application on the same database, as another worker process would have."""
    app = build_ledger(pg_settings)
    yield app
    app.close()


@pytest.mark.parametrize("group_commit", [True, False])
def test_many_threads_paying_from_one_wallet_spend_exactly_the_balance(
    pg_settings: Settings, group_commit: bool
) -> None:
    ledger = build_ledger(pg_settings.model_copy(update={"group_commit": group_commit}))
    world = setup_world(ledger, wallet_balance=10_000)
    amounts = [700] * 40  # demand 28,000 against a balance of 10,000

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(
            pool.map(lambda i: pay_from_wallet(ledger, world, f"p{i}", amounts[i]), range(40))
        )

    assert outcomes.count("succeeded") == 10_000 // 700
    assert outcomes.count("insufficient") == 40 - 10_000 // 700
    assert ledger.get_wallet(world.wallet_id).balance == 10_000 - 14 * 700
    assert_log_balances(ledger, world)
    ledger.close()


def test_two_processes_contending_on_one_wallet(
    pg_ledger: Ledger, second_process_ledger: Ledger
) -> None:
    world = setup_world(pg_ledger, wallet_balance=5_000)
    apps = [pg_ledger, second_process_ledger]

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(
            pool.map(lambda i: pay_from_wallet(apps[i % 2], world, f"k{i}", 300), range(30))
        )

    assert outcomes.count("succeeded") == 5_000 // 300
    assert pg_ledger.get_wallet(world.wallet_id).balance == 5_000 % 300
    assert_log_balances(pg_ledger, world)


def test_concurrent_retries_of_one_key_make_exactly_one_payment(
    pg_ledger: Ledger, second_process_ledger: Ledger
) -> None:
    world = setup_world(pg_ledger, wallet_balance=5_000)
    apps = [pg_ledger, second_process_ledger]

    def attempt(i: int) -> dict[str, object]:
        command = CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=world.account_id,
            method="wallet",
            wallet_id=world.wallet_id,
            amount=1_000,
            confirm=True,
            idempotency_key="the-one",
        )
        return dict(apps[i % 2].execute(command).result)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(attempt, range(16)))

    assert len({r["id"] for r in results}) == 1
    assert sum(not r["replayed"] for r in results) == 1
    assert pg_ledger.get_wallet(world.wallet_id).balance == 4_000
    debits = [e for _, e in iter_events(pg_ledger) if type(e).__qualname__ == "Wallet.Debited"]
    assert len(debits) == 1


def assert_log_balances(ledger: Ledger, world: World) -> None:
    """The wallet's sub-ledger equals its postings, and all postings sum to zero."""
    postings = [p for _, e in iter_events(ledger) for p in postings_of(e)]
    assert sum(p["amount"] for p in postings) == 0
    wallet = f"wallet:{world.wallet_id}"
    from_postings = -sum(p["amount"] for p in postings if p["account"] == wallet)
    assert from_postings == ledger.get_wallet(UUID(str(world.wallet_id))).balance
