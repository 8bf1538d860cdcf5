"""The handlers of card operations at the acquirer (commands in ledger/payments/commands.py):
the checkout opened, the outcome settled whatever order notifications arrive in, the in-flight
cancel, and the resident's saved cards.

Naturally idempotent (no idempotency key): each is keyed by the operation or the card, and
running one again with the same facts changes nothing.
"""

from __future__ import annotations

from uuid import UUID

from ledger.domain import CardCheckout, Payment, PaymentStatus, SavedCards, TopUpStatus
from ledger.domain.payment import PaymentMethod
from ledger.engine.command import Handlers
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import (
    OperationMismatchError,
    PaymentStateConflictError,
    UnknownPaymentError,
    UnknownSavedCardError,
)
from ledger.payments import handlers
from ledger.payments.commands import (
    CardOperationResult,
    CheckoutView,
    OpenCardCheckout,
    RemoveSavedCard,
    SaveCard,
    SavedCardsResult,
    SettleCardOperation,
    SettleCardPayment,
    SettleTopUp,
)


def checkout_of(uow: UnitOfWork, operation_id: UUID) -> CardCheckout | None:
    return uow.find(CardCheckout, CardCheckout.id_for(operation_id))


def saved_cards_of(uow: UnitOfWork, payer_id: str) -> SavedCards | None:
    return uow.find(SavedCards, SavedCards.id_for(payer_id))


def checkout_view(checkout: CardCheckout) -> CheckoutView:
    return {
        "operation_id": str(checkout.operation_id),
        "kind": checkout.kind,
        "amount": checkout.amount,
        "acquirer_payment_id": checkout.acquirer_payment_id,
        "payment_url": checkout.payment_url,
        "customer_key": checkout.customer_key,
    }


def open_card_checkout(cmd: OpenCardCheckout, uow: UnitOfWork) -> CheckoutView:
    existing = checkout_of(uow, cmd.operation_id)
    if existing is not None:
        return checkout_view(existing)
    checkout = uow.add(
        CardCheckout(
            id=CardCheckout.id_for(cmd.operation_id),
            operation_id=cmd.operation_id,
            kind=cmd.kind,
            payer_id=cmd.payer_id,
            amount=cmd.amount,
            acquirer=cmd.acquirer,
            acquirer_payment_id=cmd.acquirer_payment_id,
            payment_url=cmd.payment_url,
            customer_key=cmd.customer_key,
        )
    )
    return checkout_view(checkout)


def settle_card_operation(cmd: SettleCardOperation, uow: UnitOfWork) -> CardOperationResult:
    payment = uow.find(Payment, cmd.operation_id)
    if payment is not None:
        return _settle_payment(cmd, uow, payment)
    top_up = handlers.get_top_up(uow, cmd.operation_id)
    _check_amount(cmd, top_up.amount)
    wanted = TopUpStatus.SUCCEEDED if cmd.outcome == "succeeded" else TopUpStatus.FAILED
    if top_up.status == TopUpStatus.PROCESSING:
        settled = handlers.settle_top_up(
            SettleTopUp(
                top_up_id=top_up.id,
                succeeded=cmd.outcome == "succeeded",
                amount=cmd.amount,
                acquirer_ref=cmd.acquirer_ref,
            ),
            uow,
        )
        return {"operation_id": settled["top_up_id"], "kind": "top_up", "status": settled["status"]}
    _same(cmd, top_up.status == wanted, top_up.status)
    return {"operation_id": str(top_up.id), "kind": "top_up", "status": str(top_up.status)}


def _settle_payment(
    cmd: SettleCardOperation, uow: UnitOfWork, payment: Payment
) -> CardOperationResult:
    if payment.method != PaymentMethod.CARD:
        raise UnknownPaymentError(f"no card payment {payment.id}", payment_id=str(payment.id))
    _check_amount(cmd, payment.amount)
    if payment.status == PaymentStatus.PROCESSING:
        if cmd.outcome == "canceled":
            payment.cancel_at_acquirer(reason="canceled at the acquirer")
        else:
            handlers.settle_card_payment(
                SettleCardPayment(
                    payment_id=payment.id,
                    succeeded=cmd.outcome == "succeeded",
                    amount=cmd.amount,
                    acquirer_ref=cmd.acquirer_ref,
                ),
                uow,
            )
    else:
        unpaid = {PaymentStatus.FAILED, PaymentStatus.CANCELED}
        same = (
            payment.status == PaymentStatus.SUCCEEDED
            if cmd.outcome == "succeeded"
            else (payment.status in unpaid)
        )
        _same(cmd, same, payment.status)
    return {"operation_id": str(payment.id), "kind": "payment", "status": str(payment.status)}


def _check_amount(cmd: SettleCardOperation, expected: int) -> None:
    if cmd.amount != expected:
        raise OperationMismatchError(
            f"operation {cmd.operation_id} is for {expected}, the acquirer reported {cmd.amount}",
            operation_id=str(cmd.operation_id),
            expected=expected,
            amount=cmd.amount,
        )


def _same(cmd: SettleCardOperation, same: bool, status: str) -> None:
    if not same:
        raise PaymentStateConflictError(
            f"operation {cmd.operation_id} is {status}; the acquirer now reports {cmd.outcome}",
            payment_id=str(cmd.operation_id),
            status=str(status),
            command="settle",
        )


def save_card(cmd: SaveCard, uow: UnitOfWork) -> SavedCardsResult:
    cards = saved_cards_of(uow, cmd.payer_id)
    if cards is None:
        cards = uow.add(SavedCards(id=SavedCards.id_for(cmd.payer_id), payer_id=cmd.payer_id))
    cards.save(card_id=cmd.card_id, rebill_id=cmd.rebill_id, pan=cmd.pan, exp_date=cmd.exp_date)
    return {"cards": cards.view()}


def remove_saved_card(cmd: RemoveSavedCard, uow: UnitOfWork) -> SavedCardsResult:
    cards = saved_cards_of(uow, cmd.payer_id)
    if cards is None:
        raise UnknownSavedCardError(f"no saved card {cmd.card_id}", card_id=cmd.card_id)
    cards.remove(card_id=cmd.card_id)
    return {"cards": cards.view()}


HANDLERS = Handlers()
HANDLERS.add(OpenCardCheckout, open_card_checkout)
HANDLERS.add(SettleCardOperation, settle_card_operation)
HANDLERS.add(SaveCard, save_card)
HANDLERS.add(RemoveSavedCard, remove_saved_card)
