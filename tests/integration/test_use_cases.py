"""The resident's and operator's use cases, on every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.domain import PaymentStatus
from ledger.domain.postings import postings_of
from ledger.errors import (
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    PaymentStateConflictError,
)
from ledger.payments.commands import (
    CancelPayment,
    ConfirmPayment,
    CreatePayment,
    RefundPayment,
    SettleCardPayment,
)
from storage.log import iter_events
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, DOCUMENT_ID, INN, setup_world, top_up


def test_pay_a_bill_from_the_wallet_debits_once_and_clears_the_due(ledger: Ledger) -> None:
    world = setup_world(ledger, wallet_balance=600_000)

    paid = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=world.account_id,
            document_id=DOCUMENT_ID,
            method="wallet",
            wallet_id=world.wallet_id,
            confirm=True,
            idempotency_key="pay-1",
        )
    )

    assert paid.result["status"] == "succeeded"
    assert paid.result["amount"] == BILL_TOTAL  # defaulted to the bill's amount due
    assert paid.result["recipient"]["settlement_account"] == "40702810138250123017"
    assert ledger.get_wallet(world.wallet_id).balance == 600_000 - BILL_TOTAL
    assert ledger.get_account(world.account_id).due() == 0
    assert paid.position > 0


def test_pay_by_supplier_requisites_without_a_bill(ledger: Ledger) -> None:
    world = setup_world(ledger, wallet_balance=10_000)
    created = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            supplier_inn=INN,
            account_number=ACCOUNT_NUMBER,
            amount=7_000,
            method="card",
            idempotency_key="card-1",
        )
    )
    assert created.result["status"] == "requires_confirmation"
    assert created.result["account_id"] == str(world.account_id)
    assert created.result["bill_id"] is None


def test_card_payment_waits_for_the_acquirer_and_its_replay_is_harmless(ledger: Ledger) -> None:
    world = setup_world(ledger)
    created = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=world.account_id,
            method="card",
            amount=1_000,
            idempotency_key="card",
        )
    )
    payment_id = UUID(created.result["id"])
    confirmed = ledger.execute(
        ConfirmPayment(payment_id=payment_id, payer_id=world.payer_id, idempotency_key="confirm")
    )
    assert confirmed.result["status"] == "processing"

    first = ledger.execute(
        SettleCardPayment(payment_id=payment_id, succeeded=True, amount=1_000, acquirer_ref="acq-1")
    )
    again = ledger.execute(
        SettleCardPayment(payment_id=payment_id, succeeded=True, amount=1_000, acquirer_ref="acq-1")
    )

    assert first.result["status"] == again.result["status"] == "succeeded"
    assert again.position == 0  # nothing written the second time
    assert ledger.get_account(world.account_id).paid == 1_000


def test_insufficient_funds_changes_nothing(ledger: Ledger) -> None:
    world = setup_world(ledger, wallet_balance=100)
    before = ledger.recorder.max_notification_id()
    with pytest.raises(InsufficientFundsError) as caught:
        ledger.execute(
            CreatePayment.parse(
                payer_id=world.payer_id,
                account_id=world.account_id,
                method="wallet",
                wallet_id=world.wallet_id,
                amount=101,
                confirm=True,
                idempotency_key="too-much",
            )
        )
    assert caught.value.data == {"wallet_id": str(world.wallet_id), "balance": 100, "amount": 101}
    assert ledger.recorder.max_notification_id() == before


def test_retry_with_same_key_returns_original_payment(ledger: Ledger) -> None:
    world = setup_world(ledger, wallet_balance=5_000)
    request = dict(
        payer_id=world.payer_id,
        account_id=world.account_id,
        method="wallet",
        wallet_id=world.wallet_id,
        amount=1_000,
        confirm=True,
        idempotency_key="same",
    )
    first = ledger.execute(CreatePayment.parse(**request))
    retry = ledger.execute(CreatePayment.parse(**request))

    assert retry.result == {**first.result, "replayed": True}
    assert ledger.get_wallet(world.wallet_id).balance == 4_000
    with pytest.raises(IdempotencyKeyReusedError):
        ledger.execute(CreatePayment.parse(**{**request, "amount": 2_000}))


def test_refunds_partial_then_full_and_no_more(ledger: Ledger) -> None:
    world = setup_world(ledger, wallet_balance=5_000)
    paid = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=world.account_id,
            method="wallet",
            wallet_id=world.wallet_id,
            amount=3_000,
            confirm=True,
            idempotency_key="p",
        )
    )
    payment_id = UUID(paid.result["id"])
    ledger.execute(RefundPayment(payment_id=payment_id, amount=1_000, idempotency_key="r1"))
    ledger.execute(RefundPayment(payment_id=payment_id, amount=2_000, idempotency_key="r2"))

    assert ledger.get_wallet(world.wallet_id).balance == 5_000
    assert ledger.get_payment(payment_id).refunded == 3_000
    with pytest.raises(Exception) as caught:
        ledger.execute(RefundPayment(payment_id=payment_id, amount=1, idempotency_key="r3"))
    assert caught.value.code == "refund_exceeds_payment"  # type: ignore[attr-defined]


def test_cancel_before_confirmation_only(ledger: Ledger) -> None:
    world = setup_world(ledger)
    created = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=world.account_id,
            method="card",
            amount=500,
            idempotency_key="c",
        )
    )
    payment_id = UUID(created.result["id"])
    canceled = ledger.execute(
        CancelPayment(payment_id=payment_id, payer_id=world.payer_id, idempotency_key="cancel")
    )
    assert canceled.result["status"] == PaymentStatus.CANCELED
    with pytest.raises(PaymentStateConflictError):
        ledger.execute(
            ConfirmPayment(payment_id=payment_id, payer_id=world.payer_id, idempotency_key="x")
        )


def test_postings_over_the_whole_log_sum_to_zero(ledger: Ledger) -> None:
    world = setup_world(ledger, wallet_balance=9_000)
    top_up(ledger, world.wallet_id, world.payer_id, 1_000, key="more")
    paid = ledger.execute(
        CreatePayment.parse(
            payer_id=world.payer_id,
            account_id=world.account_id,
            method="wallet",
            wallet_id=world.wallet_id,
            amount=4_000,
            confirm=True,
            idempotency_key="p",
        )
    )
    ledger.execute(
        RefundPayment(payment_id=UUID(paid.result["id"]), amount=500, idempotency_key="r")
    )

    postings = [p for _, event in iter_events(ledger) for p in postings_of(event)]
    assert len(postings) == 8
    assert sum(p["amount"] for p in postings) == 0
    wallet_side = sum(p["amount"] for p in postings if p["account"] == f"wallet:{world.wallet_id}")
    assert -wallet_side == ledger.get_wallet(world.wallet_id).balance == 6_500
