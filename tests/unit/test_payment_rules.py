"""The payments' rules and named errors, in memory: wallets, top-ups, payments, refunds."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.domain.payment import Payment, came_by_card
from ledger.domain.postings import ACQUIRER_CLEARING
from ledger.errors import (
    InvalidAmountError,
    InvalidPaymentMethodError,
    NothingDueError,
    OperationMismatchError,
    PaymentStateConflictError,
    TopUpStateConflictError,
    UnknownAccountError,
    UnknownBillError,
    UnknownPaymentError,
    UnknownWalletError,
    WalletOwnershipError,
)
from ledger.payments.commands import (
    CancelPayment,
    ConfirmPayment,
    OpenWallet,
    RefundPayment,
    RequestTopUp,
    SettleCardPayment,
    SettleTopUp,
)
from ledger.registry.commands import OpenAccount
from tests.fixtures import (
    BILL_TOTAL,
    DOCUMENT_ID,
    World,
    setup_world,
)
from tests.fixtures import (
    pay_from_wallet as pay,
)


@pytest.fixture
def world(memory_ledger: Ledger) -> World:
    return setup_world(memory_ledger, wallet_balance=1_000_000)


def test_amount_defaults_to_what_is_due_and_nothing_due_needs_an_amount(
    memory_ledger: Ledger, world: World
) -> None:
    first = pay(memory_ledger, world, "all")
    assert first["amount"] == BILL_TOTAL
    with pytest.raises(NothingDueError):
        pay(memory_ledger, world, "nothing-left")
    advance = pay(memory_ledger, world, "advance", amount=10_000)
    assert advance["status"] == "succeeded"


def test_unknown_and_foreign_references(memory_ledger: Ledger, world: World) -> None:
    other = setup_other_account(memory_ledger, world)
    with pytest.raises(UnknownAccountError):
        pay(memory_ledger, world, "a", account_id=uuid4())
    with pytest.raises(UnknownBillError):
        pay(memory_ledger, world, "b", document_id="70АА000560-01-9999")
    with pytest.raises(UnknownBillError):
        pay(memory_ledger, world, "c", account_id=other, document_id=DOCUMENT_ID)
    with pytest.raises(UnknownWalletError):
        pay(memory_ledger, world, "d", payer_id="someone-else")
    with pytest.raises(WalletOwnershipError):
        pay(memory_ledger, world, "e", wallet_id=None)
    with pytest.raises(InvalidPaymentMethodError):
        pay(memory_ledger, world, "f", method="cash")
    with pytest.raises(UnknownPaymentError):
        memory_ledger.execute(ConfirmPayment(payment_id=uuid4(), payer_id="x", idempotency_key="g"))


def setup_other_account(ledger: Ledger, world: World) -> UUID:
    opened = ledger.execute(
        OpenAccount.parse(
            supplier_id=world.supplier_id, account_number="2", address="x", idempotency_key="other"
        )
    )
    return UUID(opened.result["account_id"])


@pytest.mark.parametrize("amount", [0, -1, 10**13, True, 1.5])
def test_amount_must_be_positive_whole_kopecks(
    memory_ledger: Ledger, world: World, amount: object
) -> None:
    with pytest.raises(InvalidAmountError):
        pay(memory_ledger, world, f"amount-{amount!r}", amount=amount)


@pytest.mark.parametrize("amount", [0, -1])
def test_a_top_up_or_a_refund_moves_a_positive_amount(
    memory_ledger: Ledger, world: World, amount: int
) -> None:
    """The Ledger refuses a non-positive amount as it takes it: no wallet is credited by it."""
    with pytest.raises(InvalidAmountError):
        memory_ledger.execute(
            RequestTopUp(
                wallet_id=world.wallet_id,
                payer_id=world.payer_id,
                amount=amount,
                idempotency_key="t",
            )
        )
    paid = pay(memory_ledger, world, "paid", amount=100)
    with pytest.raises(InvalidAmountError):
        memory_ledger.execute(
            RefundPayment(payment_id=UUID(str(paid["id"])), amount=amount, idempotency_key="r")
        )
    assert memory_ledger.get_wallet(world.wallet_id).balance == 1_000_000 - 100


def test_another_payer_cannot_touch_a_payment(memory_ledger: Ledger, world: World) -> None:
    created = pay(memory_ledger, world, "mine", method="card", confirm=False, amount=100)
    with pytest.raises(UnknownPaymentError):
        memory_ledger.execute(
            CancelPayment(
                payment_id=UUID(str(created["id"])), payer_id="intruder", idempotency_key="x"
            )
        )


def test_card_declined_fails_and_cannot_be_canceled_in_processing(
    memory_ledger: Ledger, world: World
) -> None:
    created = pay(memory_ledger, world, "card", method="card", amount=700)
    payment_id = UUID(str(created["id"]))
    assert created["status"] == "processing"
    with pytest.raises(PaymentStateConflictError):
        memory_ledger.execute(
            CancelPayment(payment_id=payment_id, payer_id=world.payer_id, idempotency_key="cancel")
        )
    with pytest.raises(OperationMismatchError):
        memory_ledger.execute(
            SettleCardPayment(payment_id=payment_id, succeeded=False, amount=701, acquirer_ref="a")
        )
    failed = memory_ledger.execute(
        SettleCardPayment(payment_id=payment_id, succeeded=False, amount=700, acquirer_ref="a")
    )
    assert failed.result["status"] == "failed"
    with pytest.raises(PaymentStateConflictError):
        memory_ledger.execute(
            SettleCardPayment(payment_id=payment_id, succeeded=True, amount=700, acquirer_ref="b")
        )
    with pytest.raises(PaymentStateConflictError):
        memory_ledger.execute(RefundPayment(payment_id=payment_id, amount=1, idempotency_key="r"))


def test_card_refund_goes_back_through_the_acquirer(memory_ledger: Ledger, world: World) -> None:
    created = pay(memory_ledger, world, "card", method="card", amount=700)
    payment_id = UUID(str(created["id"]))
    memory_ledger.execute(
        SettleCardPayment(payment_id=payment_id, succeeded=True, amount=700, acquirer_ref="a")
    )
    refund = memory_ledger.execute(
        RefundPayment(payment_id=payment_id, amount=200, idempotency_key="r")
    )
    assert refund.result["payment"]["refunded"] == 200
    events = memory_ledger.repository.get(payment_id)
    assert events.refunded == 200
    last = list(memory_ledger.events.get(payment_id))[-1]
    assert last.postings[1] == {"account": ACQUIRER_CLEARING, "amount": -200}  # type: ignore[attr-defined]


def test_a_succeeded_event_tells_a_card_payment_from_a_wallet_one(
    memory_ledger: Ledger, world: World
) -> None:
    def succeeded(payment_id: UUID) -> Payment.Succeeded:
        (event,) = [e for e in memory_ledger.events.get(payment_id) if type(e) is Payment.Succeeded]
        return event

    card = UUID(str(pay(memory_ledger, world, "by-card", method="card", amount=700)["id"]))
    memory_ledger.execute(
        SettleCardPayment(payment_id=card, succeeded=True, amount=700, acquirer_ref="a")
    )
    wallet = UUID(str(pay(memory_ledger, world, "by-wallet", amount=700)["id"]))
    assert came_by_card(succeeded(card))
    assert not came_by_card(succeeded(wallet))


def test_top_up_outcomes(memory_ledger: Ledger, world: World) -> None:
    requested = memory_ledger.execute(
        RequestTopUp(
            wallet_id=world.wallet_id, payer_id=world.payer_id, amount=500, idempotency_key="t"
        )
    )
    top_up_id = UUID(requested.result["top_up_id"])
    assert requested.result["status"] == "processing"
    with pytest.raises(OperationMismatchError):
        memory_ledger.execute(
            SettleTopUp(top_up_id=top_up_id, succeeded=True, amount=5, acquirer_ref="a")
        )
    memory_ledger.execute(
        SettleTopUp(top_up_id=top_up_id, succeeded=False, amount=500, acquirer_ref="a")
    )
    assert memory_ledger.get_wallet(world.wallet_id).balance == 1_000_000
    with pytest.raises(TopUpStateConflictError):
        memory_ledger.execute(
            SettleTopUp(top_up_id=top_up_id, succeeded=True, amount=500, acquirer_ref="b")
        )
    with pytest.raises(UnknownWalletError):
        memory_ledger.execute(
            RequestTopUp(
                wallet_id=world.wallet_id, payer_id="intruder", amount=500, idempotency_key="t2"
            )
        )


def test_payer_ids_and_keys_cannot_combine_into_anothers_scope(memory_ledger: Ledger) -> None:
    first = memory_ledger.execute(OpenWallet(payer_id="a", idempotency_key="b/c"))
    second = memory_ledger.execute(OpenWallet(payer_id="a/b", idempotency_key="c"))
    assert first.result["wallet_id"] != second.result["wallet_id"]
    assert not second.result["replayed"]


def test_status_history_carries_each_events_own_time(memory_ledger: Ledger, world: World) -> None:
    created = pay(memory_ledger, world, "timed", method="card", amount=100)
    payment_id = UUID(str(created["id"]))
    events = list(memory_ledger.events.get(payment_id))
    history = memory_ledger.get_payment(payment_id).status_history
    assert [at for _, at in history] == [e.timestamp for e in events]
