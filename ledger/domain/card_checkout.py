"""CardCheckout: a card operation (a payment or a top-up) as opened at the acquirer.

Recorded once, when the acquirer accepted the order (T-Bank's `Init`): its id there, the page
the payer goes to, and whether the card is to be saved. Reconciliation asks the acquirer about
it by that id; a retried request finds it instead of opening a second session. The outcome is
recorded on the payment or top-up itself, not here.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import natural_id


class CardCheckout(Aggregate):
    TOPIC = "kvit.card_checkout"

    class Created(Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.card_checkout.created"

    class Opened(Created):
        TOPIC = "kvit.card_checkout.opened"
        operation_id: UUID
        kind: str
        payer_id: str
        amount: int
        acquirer: str
        acquirer_payment_id: str
        payment_url: str
        customer_key: str | None

    @staticmethod
    def id_for(operation_id: UUID) -> UUID:
        """One checkout per operation: a second open of the same one collides."""
        return natural_id("card_checkout", str(operation_id))

    @event(Opened)
    def __init__(
        self,
        *,
        id: UUID,
        operation_id: UUID,
        kind: str,
        payer_id: str,
        amount: int,
        acquirer: str,
        acquirer_payment_id: str,
        payment_url: str,
        customer_key: str | None,
    ) -> None:
        self.operation_id = operation_id
        self.kind = kind
        self.payer_id = payer_id
        self.amount = amount
        self.acquirer = acquirer
        self.acquirer_payment_id = acquirer_payment_id
        self.payment_url = payment_url
        self.customer_key = customer_key
        """Set when the payer asked to save the card: the acquirer files it under this key."""
