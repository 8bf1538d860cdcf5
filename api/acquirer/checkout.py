"""Card operations between the ledger and the acquirer: open a checkout once per operation,
pay with a saved card, settle what the acquirer reports (notification, Charge or GetState)
in whatever order it comes, cancel in flight and refund.

The acquirer is called outside any transaction; what it answered is then recorded as one
command, so a crash in between leaves nothing the next call or reconciliation cannot finish.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from api.acquirer.base import Acquirer, AcquirerApi, AcquirerState, CardOrder, ReceiptItem
from api.acquirer.tbank.acquirer import OUTCOMES, UNPAID
from api.acquirer.tbank.client import TBankError, TBankUnavailableError
from api.acquirer.tbank.notification import TBankNotification
from api.problems import ApiProblem
from ledger.application import Ledger
from ledger.domain import CardCheckout, Payment, SavedCards
from ledger.engine.group_commit import Outcome
from ledger.errors import OperationMismatchError, UnknownPaymentError, UnknownSavedCardError
from ledger.payments.cards import checkout_of, saved_cards_of
from ledger.payments.commands import (
    CardOperationResult,
    OpenCardCheckout,
    SaveCard,
    SavedCardsResult,
    SettleCardOperation,
)
from ledger.registry.handlers import get_bill, get_supplier


class AcquirerRefusedProblem(ApiProblem):
    status, code, title = 502, "acquirer_refused", "The acquirer refused the operation"


class AcquirerUnavailableProblem(ApiProblem):
    status, code, title = 503, "acquirer_unavailable", "The acquirer did not answer"


class SavedCardsUnavailableProblem(ApiProblem):
    status, code, title = 501, "saved_cards_unavailable", "Saved cards are not available"


class ReceiptEmailRequiredProblem(ApiProblem):
    status, code, title = 422, "receipt_email_required", "An e-mail for the receipt is needed"


def description(payment: Payment) -> str:
    return f"Оплата ЖКУ, лицевой счёт {payment.account_number}"


def payment_order(ledger: Ledger, payment: Payment, *, save_card: bool) -> CardOrder:
    """The order for a card payment: the bill's services as receipt items when it pays the
    bill whole, the supplier it is collected for, and the payer's e-mail."""

    def read(uow: Any) -> tuple[tuple[ReceiptItem, ...], str, str]:
        supplier = get_supplier(uow, payment.supplier_id)
        items: tuple[ReceiptItem, ...] = ()
        if payment.bill_id is not None:
            lines = get_bill(uow, payment.bill_id).lines
            if sum(line["amount"] for line in lines) == payment.amount:
                items = tuple(ReceiptItem(line["service"], line["amount"]) for line in lines)
        return items, supplier.name, supplier.inn

    items, supplier_name, supplier_inn = ledger.read(read)
    return CardOrder(
        operation_id=payment.id,
        kind="payment",
        payer_id=payment.payer_id,
        amount=payment.amount,
        description=description(payment),
        email=payment.email,
        items=items,
        supplier_name=supplier_name,
        supplier_inn=supplier_inn,
        customer_key=str(SavedCards.id_for(payment.payer_id)) if save_card else None,
    )


def top_up_order(top_up_id: UUID, payer_id: str, amount: int) -> CardOrder:
    return CardOrder(top_up_id, "top_up", payer_id, amount, "Пополнение кошелька Квит")


def find_checkout(ledger: Ledger, operation_id: UUID) -> CardCheckout | None:
    return ledger.read(partial(checkout_of, operation_id=operation_id))


def ensure_checkout(ledger: Ledger, acquirer: Acquirer, order: CardOrder) -> CardCheckout:
    """The operation's checkout: the one recorded, else one the acquirer opens now."""
    found = find_checkout(ledger, order.operation_id)
    if found is not None:
        return found
    if receipts_required(acquirer) and order.kind == "payment" and not order.email:
        raise ReceiptEmailRequiredProblem(
            "the acquirer issues a fiscal receipt (54-ФЗ) for a card payment: give an email"
        )
    opened = call(acquirer.open, order)
    ledger.execute(
        OpenCardCheckout(
            operation_id=order.operation_id,
            kind=order.kind,
            payer_id=order.payer_id,
            amount=order.amount,
            acquirer=acquirer.name,
            acquirer_payment_id=opened.acquirer_payment_id,
            payment_url=opened.payment_url,
            customer_key=order.customer_key,
        )
    )
    checkout = find_checkout(ledger, order.operation_id)
    assert checkout is not None
    return checkout


def receipts_required(acquirer: Acquirer) -> bool:
    return getattr(acquirer, "receipts", None) is not None


def settle(
    ledger: Ledger, checkout: CardCheckout, state: AcquirerState
) -> Outcome[CardOperationResult] | None:
    """Record a final status (None for one on the way). Idempotent: see SettleCardOperation."""
    outcome = OUTCOMES.get(state.status)
    if outcome is None:
        return None
    return ledger.execute(
        SettleCardOperation(
            operation_id=checkout.operation_id,
            outcome=outcome,  # type: ignore[arg-type]  # OUTCOMES holds only the three
            amount=checkout.amount if state.amount is None else state.amount,
            acquirer_ref=f"{checkout.acquirer}:{checkout.acquirer_payment_id}",
        )
    )


def save_cards(ledger: Ledger, acquirer: AcquirerApi, checkout: CardCheckout) -> None:
    """Keep the cards the acquirer saved under the checkout's customer key (when its
    notification, which carries the rebill id, was lost)."""
    if checkout.customer_key is None:
        return
    for card in call(acquirer.cards, checkout.customer_key):
        if card.active and card.rebill_id:
            ledger.execute(
                SaveCard(
                    payer_id=checkout.payer_id,
                    card_id=card.card_id,
                    rebill_id=card.rebill_id,
                    pan=card.pan,
                    exp_date=card.exp_date,
                )
            )


def api_of(acquirer: Acquirer) -> AcquirerApi:
    """The acquirer, if Kvit can instruct it after the payment page (saved cards)."""
    if not isinstance(acquirer, AcquirerApi):
        raise SavedCardsUnavailableProblem(
            f"the {acquirer.name} acquirer keeps no saved cards; pay on its payment page"
        )
    return acquirer


def pay_with_saved_card(
    ledger: Ledger, acquirer: AcquirerApi, payment: Payment, card_id: str
) -> Outcome[CardOperationResult] | None:
    """Init + Charge with the card's rebill id. If the bank wants 3-D Secure (or anything else
    leaves the session unpaid), the payer finishes on the session's payment page."""
    cards = ledger.read(partial(saved_cards_of, payer_id=payment.payer_id))
    if cards is None:
        raise UnknownSavedCardError(f"no saved card {card_id}", card_id=card_id)
    rebill_id = cards.card(card_id)["rebill_id"]
    checkout = ensure_checkout(ledger, acquirer, payment_order(ledger, payment, save_card=False))
    try:
        state = call(acquirer.charge, checkout.acquirer_payment_id, rebill_id)
    except AcquirerRefusedProblem:
        state = call(acquirer.state, checkout.acquirer_payment_id)
    return settle(ledger, checkout, state)


def cancel_in_flight(
    ledger: Ledger, acquirer: AcquirerApi, payment: Payment
) -> Outcome[CardOperationResult] | None:
    """Close an unpaid card session and cancel the payment. If it was paid meanwhile, it is
    settled as paid (and the caller's cancel refused as for any paid payment)."""
    checkout = find_checkout(ledger, payment.id)
    if checkout is None:
        return None
    state = call(acquirer.state, checkout.acquirer_payment_id)
    if state.status in UNPAID:
        state = call(acquirer.cancel, checkout.acquirer_payment_id)
    return settle(ledger, checkout, state)


def refund_at_acquirer(
    ledger: Ledger, acquirer: AcquirerApi, payment: Payment, amount: int, refund_id: UUID
) -> None:
    """Return `amount` of a paid card payment to the card before the ledger records it; the
    refund's id makes a retried request a no-op at T-Bank (`ExternalRequestId`)."""
    checkout = find_checkout(ledger, payment.id)
    if checkout is None or str(refund_id) in payment.refund_ids:
        return
    if amount > payment.refundable or amount <= 0:
        return  # the ledger refuses it, with its own error
    call(acquirer.cancel, checkout.acquirer_payment_id, amount=amount, request_id=str(refund_id))


def call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """An acquirer call, its failures as problems: refused (502) or unreachable (503)."""
    try:
        return method(*args, **kwargs)
    except TBankError as error:
        raise AcquirerRefusedProblem(str(error), error_code=error.code) from None
    except TBankUnavailableError as error:
        raise AcquirerUnavailableProblem(str(error)) from None


def apply_notification(
    ledger: Ledger, note: TBankNotification
) -> list[Outcome[CardOperationResult] | Outcome[SavedCardsResult]]:
    """What T-Bank reported, recorded: the outcome if final, and the card if it saved one.
    Checked against the checkout first: T-Bank's payment id and the amount must be ours."""
    checkout = find_checkout(ledger, note.OrderId)
    if checkout is None:
        raise UnknownPaymentError(
            f"no card operation {note.OrderId}", operation_id=str(note.OrderId)
        )
    paid = note.Success and note.Status in ("AUTHORIZED", "CONFIRMED")
    if note.Status not in OUTCOMES and not paid:
        return []  # on the way, or a refund Kvit asked for and recorded: nothing to change
    if str(note.PaymentId) != checkout.acquirer_payment_id or note.Amount != checkout.amount:
        raise OperationMismatchError(
            f"operation {note.OrderId} is T-Bank payment {checkout.acquirer_payment_id} of"
            f" {checkout.amount}; the notification says {note.PaymentId} of {note.Amount}",
            operation_id=str(note.OrderId),
            expected=checkout.amount,
            amount=note.Amount,
        )
    done: list[Outcome[CardOperationResult] | Outcome[SavedCardsResult]] = []
    settled = settle(ledger, checkout, AcquirerState(note.Status, note.Amount))
    if settled is not None:
        done.append(settled)
    if paid and checkout.customer_key and note.RebillId and note.CardId and note.Pan:
        done.append(
            ledger.execute(
                SaveCard(
                    payer_id=checkout.payer_id,
                    card_id=str(note.CardId),
                    rebill_id=str(note.RebillId),
                    pan=note.Pan,
                    exp_date=note.ExpDate or "",
                )
            )
        )
    return done
