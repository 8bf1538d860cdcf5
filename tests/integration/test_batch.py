"""Batch writes: many independent commands in one transaction, each with its own answer."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from ledger.application import HANDLERS, Ledger
from ledger.domain.idempotency import IdempotencyRecord
from ledger.engine.batch import MAX_BATCH_COMMANDS, run_batch
from ledger.engine.command import payer_scope
from ledger.engine.idempotent import derived_id
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import (
    BatchTooLargeError,
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    InvalidAmountError,
    UnknownAccountError,
)
from ledger.payments.commands import CreatePayment
from ledger.payments.handlers import get_wallet
from storage.log import iter_events
from tests.fixtures import World, setup_world, top_up


def wallet_payment(world: World, amount: int, key: str, **extra: object) -> CreatePayment:
    fields: dict[str, object] = {
        "payer_id": world.payer_id,
        "account_id": world.account_id,
        "method": "wallet",
        "wallet_id": world.wallet_id,
        "amount": amount,
        "confirm": True,
        "idempotency_key": key,
        **extra,
    }
    return CreatePayment.parse(**fields)  # type: ignore[arg-type]


def exists(ledger: Ledger, aggregate_id: UUID) -> bool:
    return bool(list(ledger.events.get(aggregate_id)))


def test_a_bad_command_in_the_middle_gets_its_own_error_and_the_rest_commit(
    ledger: Ledger,
) -> None:
    world = setup_world(ledger, wallet_balance=1_000)
    head = ledger.recorder.max_notification_id() or 0
    commands = [
        wallet_payment(world, 300, "p1"),
        wallet_payment(world, 900, "p2"),  # only 700 left by then
        CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=derived_id("account", "nobody", "none"),
            method="card",
            amount=5,
            idempotency_key="p3",
        ),
        wallet_payment(world, 700, "p4"),
    ]

    items = ledger.execute_batch(commands)

    assert [item.ok for item in items] == [True, False, False, True]
    assert isinstance(items[1].error, InsufficientFundsError)
    assert items[1].error.code == "insufficient_funds"
    assert isinstance(items[2].error, UnknownAccountError)
    assert items[0].outcome and items[3].outcome
    assert items[0].outcome.result["status"] == items[3].outcome.result["status"] == "succeeded"
    # One transaction: both successes report the same log position, and it is the new head.
    assert (
        items[0].outcome.position
        == items[3].outcome.position
        == ledger.recorder.max_notification_id()
    )
    assert ledger.get_wallet(world.wallet_id).balance == 0
    # Nothing partial of the failed ones: no payment, no idempotency record.
    for bad in (commands[1], commands[2]):
        assert not exists(ledger, bad.payment_id)
        assert not exists(ledger, bad.record_id)
    new_events = [event for _, event in iter_events(ledger, after=head)]
    touched = {event.originator_id for event in new_events}
    assert commands[1].payment_id not in touched and commands[2].payment_id not in touched

    # A failed command recorded nothing, so its key works once the wallet is topped up.
    top_up(ledger, world.wallet_id, world.payer_id, 900, key="more")
    [retried] = ledger.execute_batch([commands[1]])
    assert retried.outcome is not None
    assert retried.outcome.result == {
        **retried.outcome.result,
        "status": "succeeded",
        "replayed": False,
    }


def test_replaying_a_batch_returns_the_original_results_and_moves_no_money(
    ledger: Ledger,
) -> None:
    world = setup_world(ledger, wallet_balance=1_000)
    commands = [wallet_payment(world, 100, f"r{i}") for i in range(5)]
    first = ledger.execute_batch(commands)
    assert ledger.get_wallet(world.wallet_id).balance == 500

    again = ledger.execute_batch([*commands, wallet_payment(world, 999, "r2")])

    assert [i.outcome.result["replayed"] for i in again[:5] if i.outcome] == [True] * 5
    assert [i.outcome.result["id"] for i in again[:5] if i.outcome] == [
        i.outcome.result["id"] for i in first if i.outcome
    ]
    assert isinstance(again[5].error, IdempotencyKeyReusedError)  # same key, other request
    assert ledger.get_wallet(world.wallet_id).balance == 500
    single = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=world.account_id,
            method="wallet",
            wallet_id=world.wallet_id,
            amount=100,
            confirm=True,
            idempotency_key="r0",
        )
    )
    assert single.result["replayed"] is True  # batch and single calls share the same records


def test_a_key_repeated_inside_one_batch_runs_once(ledger: Ledger) -> None:
    world = setup_world(ledger, wallet_balance=1_000)
    same = wallet_payment(world, 100, "twice")

    items = ledger.execute_batch([same, same, wallet_payment(world, 200, "twice")])

    assert items[0].outcome and items[1].outcome
    assert items[0].outcome.result["replayed"] is False
    assert items[1].outcome.result["replayed"] is True
    assert items[1].outcome.result["id"] == items[0].outcome.result["id"]
    assert isinstance(items[2].error, IdempotencyKeyReusedError)
    assert ledger.get_wallet(world.wallet_id).balance == 900
    record = IdempotencyRecord.id_for(payer_scope(world.payer_id), "twice")
    assert len(list(ledger.events.get(record))) == 1


def test_a_batch_larger_than_the_limit_is_refused_whole(memory_ledger: Ledger) -> None:
    world = setup_world(memory_ledger, wallet_balance=10**9)
    commands = [wallet_payment(world, 1, f"k{i}") for i in range(MAX_BATCH_COMMANDS + 1)]

    with pytest.raises(BatchTooLargeError):
        memory_ledger.execute_batch(commands)

    assert memory_ledger.get_wallet(world.wallet_id).balance == 10**9


def test_a_batch_conflicting_with_another_instance_is_rerun_on_the_store(
    pg_ledger: Ledger, pg_settings: object
) -> None:
    from ledger.bootstrap import build_ledger

    other = build_ledger(pg_settings)  # type: ignore[arg-type]
    try:
        world = setup_world(pg_ledger, wallet_balance=1_000)
        pg_ledger.execute_batch([wallet_payment(world, 100, "a1")])  # cached at 900
        other.execute(
            CreatePayment.parse(  # the store now says 400
                payer_id=world.payer_id,
                account_id=world.account_id,
                method="wallet",
                wallet_id=world.wallet_id,
                amount=500,
                confirm=True,
                idempotency_key="elsewhere",
            )
        )

        items = pg_ledger.execute_batch(
            [wallet_payment(world, 300, "a2"), wallet_payment(world, 300, "a3")]
        )

        assert items[0].ok and isinstance(items[1].error, InsufficientFundsError)
        assert other.get_wallet(world.wallet_id).balance == 100
    finally:
        other.close()


def test_a_command_that_fails_halfway_leaves_the_aggregates_it_borrowed_untouched(
    ledger: Ledger,
) -> None:
    world = setup_world(ledger, wallet_balance=1_000)

    def debit_then_fail(uow: UnitOfWork) -> None:
        get_wallet(uow, world.wallet_id).debit(payment_id=uuid4(), amount=100)
        raise InvalidAmountError("changed its mind after the debit", amount=100)

    # The engine runs any `(uow) -> result`: a bound command, or this function.
    items = run_batch(
        ledger,
        [
            HANDLERS.bind(wallet_payment(world, 200, "before")),
            debit_then_fail,
            HANDLERS.bind(wallet_payment(world, 300, "after")),
        ],
    )

    assert [item.ok for item in items] == [True, False, True]
    assert ledger.get_wallet(world.wallet_id).balance == 500
    debits = [e for e in ledger.events.get(world.wallet_id) if type(e).__name__ == "Debited"]
    assert [e.amount for e in debits] == [200, 300]
