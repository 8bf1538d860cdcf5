"""Two Ledger instances on one store (as two API workers are): each trusts its own aggregate
cache, and a copy the other made stale is caught by the save, evicted and re-run."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.engine.idempotent import derived_id
from ledger.errors import InsufficientFundsError, UnknownPaymentError
from ledger.registry.commands import ChangeSupplierRequisites
from tests.fixtures import REQUISITES, World, setup_world, top_up, wallet_payment


@pytest.fixture(params=["sqlite", "postgres"])
def two_ledgers(request: pytest.FixtureRequest) -> Iterator[tuple[Ledger, Ledger]]:
    settings = request.getfixturevalue(
        f"{'pg' if request.param == 'postgres' else 'sqlite'}_settings"
    )
    first, second = build_ledger(settings), build_ledger(settings)
    yield first, second
    first.close()
    second.close()


def pay(ledger: Ledger, world: World, amount: int, key: str) -> dict[str, object]:
    return ledger.execute(wallet_payment(world, key, amount=amount)).result


def test_a_wallet_spent_by_another_instance_is_reread_before_it_is_debited(
    two_ledgers: tuple[Ledger, Ledger],
) -> None:
    a, b = two_ledgers
    world = setup_world(a, wallet_balance=1_000)
    assert pay(b, world, 100, "b1")["status"] == "succeeded"  # b now caches the wallet at 900
    assert pay(a, world, 300, "a1")["status"] == "succeeded"  # the store says 600

    with pytest.raises(InsufficientFundsError) as raised:
        pay(b, world, 800, "b2")  # b's copy says 900: the save catches it, the re-run refuses

    assert raised.value.data["balance"] == 600
    for ledger in (a, b):
        assert ledger.get_wallet(world.wallet_id).balance == 600
        with pytest.raises(UnknownPaymentError):  # nothing partial was saved
            ledger.get_payment(derived_id("payment", f"payer:{world.payer_id}", "b2"))
    assert pay(b, world, 600, "b3")["status"] == "succeeded"
    assert a.get_wallet(world.wallet_id).balance == 0


def test_a_domain_error_from_a_stale_copy_is_checked_against_the_store(
    two_ledgers: tuple[Ledger, Ledger],
) -> None:
    a, b = two_ledgers
    world = setup_world(a, wallet_balance=100)
    pay(b, world, 100, "b1")  # b caches the wallet at 0
    top_up(a, world.wallet_id, world.payer_id, 500, key="more")  # another worker's webhook

    assert pay(b, world, 400, "b2")["status"] == "succeeded"  # not insufficient_funds
    assert a.get_wallet(world.wallet_id).balance == 100


def test_requisites_changed_elsewhere_reach_payments_of_a_cached_supplier(
    two_ledgers: tuple[Ledger, Ledger],
) -> None:
    a, b = two_ledgers
    world = setup_world(a, wallet_balance=1_000)
    pay(b, world, 100, "b1")  # b caches the supplier; payments only read it
    a.execute(
        ChangeSupplierRequisites.parse(
            supplier_id=world.supplier_id,
            requisites={**REQUISITES, "bank_name": "ПАО Сбербанк России"},
            idempotency_key="new-bank",
        )
    )

    paid = pay(b, world, 100, "b2")

    assert paid["recipient"]["bank_name"] == "ПАО Сбербанк России"  # type: ignore[index]
    stored = a.get_payment(UUID(str(paid["id"])))
    assert stored.recipient["bank_name"] == "ПАО Сбербанк России"


def test_an_aggregate_the_other_instance_writes_is_checked_on_the_store_after_a_conflict(
    two_ledgers: tuple[Ledger, Ledger],
) -> None:
    a, b = two_ledgers
    world = setup_world(a, wallet_balance=1_000)
    conflicts = []
    original = b.save

    def counted(*objs: object, **kwargs: object) -> object:
        try:
            return original(*objs, **kwargs)
        except IntegrityError:
            conflicts.append(1)
            raise

    b.save = counted  # type: ignore[method-assign]
    pay(b, world, 100, "b1")
    pay(a, world, 100, "a1")
    pay(b, world, 100, "b2")  # stale: the save conflicts, then the wallet is read from the store
    after_first = len(conflicts)
    pay(a, world, 100, "a2")
    pay(b, world, 100, "b3")  # stale again, but no longer trusted: no conflict

    assert after_first >= 1
    assert len(conflicts) == after_first
    assert a.get_wallet(world.wallet_id).balance == 500
