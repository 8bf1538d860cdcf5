"""T-Bank as Kvit's acquirer: one-stage card payments (`PayType=O`) through its payment page,
saved cards charged in one step, and the state, cancel and refund of a session.

T-Bank's statuses, and what each means for the ledger, are in `OUTCOMES`.
"""

from __future__ import annotations

from typing import Any

from api.acquirer.base import AcquirerState, CardAtAcquirer, CardOrder, Checkout
from api.acquirer.tbank.client import TBankClient
from api.acquirer.tbank.notification import TBankNotification, verified
from api.acquirer.tbank.receipt import ReceiptSettings, receipt

NOTIFICATIONS_PATH = "/v1/acquirer/tbank/notifications"
DESCRIPTION_LIMIT = 140

OUTCOMES = {
    "CONFIRMED": "succeeded",  # one stage: the money is taken
    "REJECTED": "failed",
    "AUTH_FAIL": "failed",
    "DEADLINE_EXPIRED": "failed",
    "CANCELED": "canceled",  # closed before any money moved
    "REVERSED": "canceled",  # an authorisation released: no money moved
}
"""Final statuses of a session, as the ledger records them. Every other status (NEW,
FORM_SHOWED, AUTHORIZING, 3DS_CHECKING, AUTHORIZED, CONFIRMING, ...) is on the way and changes
nothing; REFUNDED and PARTIAL_REFUNDED follow refunds Kvit itself asked for and recorded."""
UNPAID = {"NEW", "FORM_SHOWED"}
"""The payer has not paid yet: the payment page still works."""


class TBankAcquirer:
    name = "tbank"

    def __init__(
        self, client: TBankClient, public_url: str, receipts: ReceiptSettings | None
    ) -> None:
        self.client = client
        self.public_url = public_url.rstrip("/")
        self.receipts = receipts

    def open(self, order: CardOrder) -> Checkout:
        fields: dict[str, Any] = {
            "Amount": order.amount,
            "OrderId": str(order.operation_id),
            "Description": order.description[:DESCRIPTION_LIMIT],
            "PayType": "O",
            "Language": "ru",
            "NotificationURL": self.public_url + NOTIFICATIONS_PATH,
            "SuccessURL": f"{self.public_url}/#/{_page(order)}",
            "FailURL": f"{self.public_url}/#/{_page(order)}",
        }
        if order.customer_key is not None:
            fields |= {"CustomerKey": order.customer_key, "Recurrent": "Y"}
        if self.receipts is not None and order.email:
            fields["Receipt"] = receipt(order, self.receipts)
        answer = self.client.call("Init", fields)
        return Checkout(str(answer["PaymentId"]), str(answer["PaymentURL"]))

    def notification(self, fields: Any) -> TBankNotification:
        """The notification, if T-Bank signed it for this terminal (NotificationRefused if
        not)."""
        return verified(fields, self.client.terminal_key, self.client.password)

    def state(self, acquirer_payment_id: str) -> AcquirerState:
        return _state(self.client.call("GetState", {"PaymentId": acquirer_payment_id}))

    def cancel(
        self, acquirer_payment_id: str, *, amount: int | None = None, request_id: str | None = None
    ) -> AcquirerState:
        fields: dict[str, Any] = {"PaymentId": acquirer_payment_id}
        if amount is not None:
            fields["Amount"] = amount
        if request_id is not None:  # T-Bank refuses a second cancel with the same id
            fields["ExternalRequestId"] = request_id
        return _state(self.client.call("Cancel", fields))

    def charge(self, acquirer_payment_id: str, rebill_id: str) -> AcquirerState:
        answer = self.client.call(
            "Charge", {"PaymentId": acquirer_payment_id, "RebillId": rebill_id}
        )
        return _state(answer)

    def cards(self, customer_key: str) -> list[CardAtAcquirer]:
        answer = self.client.call("GetCardList", {"CustomerKey": customer_key})
        return [
            CardAtAcquirer(
                card_id=str(card["CardId"]),
                pan=str(card["Pan"]),
                exp_date=str(card.get("ExpDate") or ""),
                rebill_id=str(card["RebillId"]) if card.get("RebillId") else None,
                active=card.get("Status") == "A",
            )
            for card in answer
        ]

    def remove_card(self, customer_key: str, card_id: str) -> None:
        self.client.call("RemoveCard", {"CustomerKey": customer_key, "CardId": card_id})


def _state(answer: dict[str, Any]) -> AcquirerState:
    amount = answer.get("Amount", answer.get("NewAmount"))
    return AcquirerState(
        status=str(answer.get("Status") or ""),
        amount=int(amount) if amount is not None else None,
    )


def _page(order: CardOrder) -> str:
    return "history" if order.kind == "payment" else "wallet"
