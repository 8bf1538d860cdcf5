"""Card operations at the acquirer, as commands: the checkout opened, the outcome settled
whatever order notifications arrive in, the in-flight cancel, and the resident's saved cards.

Naturally idempotent (no idempotency key): each is keyed by the operation or the card, and
running one again with the same facts changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from ledger.domain import CardCheckout, Payment, PaymentStatus, SavedCards, TopUpStatus
from ledger.domain.payment import PaymentMethod
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import (
    OperationMismatchError,
    PaymentStateConflictError,
    UnknownPaymentError,
    UnknownSavedCardError,
)
from ledger.payments import handlers

Outcome = Literal["succeeded", "failed", "canceled"]


def checkout_of(uow: UnitOfWork, operation_id: UUID) -> CardCheckout | None:
    return uow.find(CardCheckout, CardCheckout.id_for(operation_id))


def saved_cards_of(uow: UnitOfWork, payer_id: str) -> SavedCards | None:
    return uow.find(SavedCards, SavedCards.id_for(payer_id))


def checkout_view(checkout: CardCheckout) -> dict[str, Any]:
    return {
        "operation_id": str(checkout.operation_id),
        "kind": checkout.kind,
        "amount": checkout.amount,
        "acquirer_payment_id": checkout.acquirer_payment_id,
        "payment_url": checkout.payment_url,
        "customer_key": checkout.customer_key,
    }


@dataclass(frozen=True, kw_only=True)
class OpenCardCheckout:
    """Record the session the acquirer opened. The first one recorded wins: a concurrent
    retry that opened a second session gets the first one back (the second expires unpaid)."""

    operation_id: UUID
    kind: Literal["payment", "top_up"]
    payer_id: str
    amount: int
    acquirer: str
    acquirer_payment_id: str
    payment_url: str
    customer_key: str | None = None

    def __call__(self, uow: UnitOfWork) -> dict[str, Any]:
        existing = checkout_of(uow, self.operation_id)
        if existing is not None:
            return checkout_view(existing)
        checkout = uow.add(
            CardCheckout(
                id=CardCheckout.id_for(self.operation_id),
                operation_id=self.operation_id,
                kind=self.kind,
                payer_id=self.payer_id,
                amount=self.amount,
                acquirer=self.acquirer,
                acquirer_payment_id=self.acquirer_payment_id,
                payment_url=self.payment_url,
                customer_key=self.customer_key,
            )
        )
        return checkout_view(checkout)


@dataclass(frozen=True, kw_only=True)
class SettleCardOperation:
    """The acquirer's final word on a payment or top-up. The same outcome again (a replayed or
    duplicated notification, or reconciliation racing one) changes nothing; a contrary one
    after a final outcome is a conflict, never a second movement of money."""

    operation_id: UUID
    outcome: Outcome
    amount: int
    acquirer_ref: str

    def __call__(self, uow: UnitOfWork) -> dict[str, Any]:
        payment = uow.find(Payment, self.operation_id)
        if payment is not None:
            return self._payment(uow, payment)
        top_up = handlers.get_top_up(uow, self.operation_id)
        self._check_amount(top_up.amount)
        wanted = TopUpStatus.SUCCEEDED if self.outcome == "succeeded" else TopUpStatus.FAILED
        if top_up.status == TopUpStatus.PROCESSING:
            return handlers.settle_top_up(
                uow,
                top_up_id=top_up.id,
                succeeded=self.outcome == "succeeded",
                amount=self.amount,
                acquirer_ref=self.acquirer_ref,
            ) | {"kind": "top_up"}
        self._same(top_up.status == wanted, top_up.status)
        return {"top_up_id": str(top_up.id), "status": str(top_up.status), "kind": "top_up"}

    def _payment(self, uow: UnitOfWork, payment: Payment) -> dict[str, Any]:
        if payment.method != PaymentMethod.CARD:
            raise UnknownPaymentError(f"no card payment {payment.id}", payment_id=str(payment.id))
        self._check_amount(payment.amount)
        if payment.status == PaymentStatus.PROCESSING:
            if self.outcome == "canceled":
                payment.cancel_at_acquirer(reason="canceled at the acquirer")
                return payment.view() | {"kind": "payment"}
            return handlers.settle_card_payment(
                uow,
                payment_id=payment.id,
                succeeded=self.outcome == "succeeded",
                amount=self.amount,
                acquirer_ref=self.acquirer_ref,
            ) | {"kind": "payment"}
        unpaid = {PaymentStatus.FAILED, PaymentStatus.CANCELED}
        same = (
            payment.status == PaymentStatus.SUCCEEDED
            if self.outcome == "succeeded"
            else (payment.status in unpaid)
        )
        self._same(same, payment.status)
        return payment.view() | {"kind": "payment"}

    def _check_amount(self, expected: int) -> None:
        if self.amount != expected:
            raise OperationMismatchError(
                f"operation {self.operation_id} is for {expected},"
                f" the acquirer reported {self.amount}",
                operation_id=str(self.operation_id),
                expected=expected,
                amount=self.amount,
            )

    def _same(self, same: bool, status: str) -> None:
        if not same:
            raise PaymentStateConflictError(
                f"operation {self.operation_id} is {status};"
                f" the acquirer now reports {self.outcome}",
                payment_id=str(self.operation_id),
                status=str(status),
                command="settle",
            )


@dataclass(frozen=True, kw_only=True)
class SaveCard:
    """A card the acquirer saved for the payer (its notification carried a rebill id)."""

    payer_id: str
    card_id: str
    rebill_id: str
    pan: str
    exp_date: str

    def __call__(self, uow: UnitOfWork) -> dict[str, Any]:
        cards = saved_cards_of(uow, self.payer_id)
        if cards is None:
            cards = uow.add(SavedCards(id=SavedCards.id_for(self.payer_id), payer_id=self.payer_id))
        cards.save(
            card_id=self.card_id, rebill_id=self.rebill_id, pan=self.pan, exp_date=self.exp_date
        )
        return {"cards": cards.view()}


@dataclass(frozen=True, kw_only=True)
class RemoveSavedCard:
    payer_id: str
    card_id: str

    def __call__(self, uow: UnitOfWork) -> dict[str, Any]:
        cards = saved_cards_of(uow, self.payer_id)
        if cards is None:
            raise UnknownSavedCardError(f"no saved card {self.card_id}", card_id=self.card_id)
        cards.remove(card_id=self.card_id)
        return {"cards": cards.view()}
