"""SavedCards: a resident's cards saved at the acquirer, for paying again in one step.

Never a card number: the acquirer's card id and rebill id (what `Charge` takes), and the
masked PAN and expiry that its notification shows. One aggregate per payer, so the cabinet's
list is one read.
"""

from __future__ import annotations

import re
from typing import TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import natural_id
from ledger.errors import InvalidCardError, UnknownSavedCardError

MASKED_PAN = re.compile(r"[0-9]{0,6}[*Xx•]{2,}[0-9]{4}")
"""What an acquirer shows of a card (e.g. 430000******0777); anything else is refused, so that
no card number can reach the log by mistake."""


class SavedCardView(TypedDict):
    """What the resident sees of a saved card: never the rebill id."""

    card_id: str
    last4: str
    exp_date: str


class SavedCards(Aggregate):
    TOPIC = "kvit.saved_cards"

    class Created(Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.saved_cards.created"

    class Started(Created):
        TOPIC = "kvit.saved_cards.started"
        payer_id: str

    @staticmethod
    def id_for(payer_id: str) -> UUID:
        """Also the payer's customer key at the acquirer: opaque, unlike the payer id."""
        return natural_id("saved_cards", payer_id)

    @event(Started)
    def __init__(self, *, id: UUID, payer_id: str) -> None:
        self.payer_id = payer_id
        self.cards: dict[str, dict[str, str]] = {}

    @property
    def customer_key(self) -> str:
        return str(self.id)

    def save(self, *, card_id: str, rebill_id: str, pan: str, exp_date: str) -> bool:
        """Whether anything changed: the same card saved again is a no-op."""
        if not MASKED_PAN.fullmatch(pan):
            raise InvalidCardError("a saved card's number must be masked", card_id=card_id)
        card = {"card_id": card_id, "rebill_id": rebill_id, "pan": pan, "exp_date": exp_date}
        if self.cards.get(card_id) == card:
            return False
        self._card_saved(**card)
        return True

    class CardSaved(Aggregate.Event):
        TOPIC = "kvit.saved_cards.card_saved"
        card_id: str
        rebill_id: str
        pan: str
        exp_date: str

    @event(CardSaved)
    def _card_saved(self, *, card_id: str, rebill_id: str, pan: str, exp_date: str) -> None:
        self.cards[card_id] = {
            "card_id": card_id,
            "rebill_id": rebill_id,
            "pan": pan,
            "exp_date": exp_date,
        }

    def card(self, card_id: str) -> dict[str, str]:
        if card_id not in self.cards:
            raise UnknownSavedCardError(f"no saved card {card_id}", card_id=card_id)
        return self.cards[card_id]

    def remove(self, *, card_id: str) -> None:
        self.card(card_id)
        self._card_removed(card_id=card_id)

    class CardRemoved(Aggregate.Event):
        TOPIC = "kvit.saved_cards.card_removed"
        card_id: str

    @event(CardRemoved)
    def _card_removed(self, *, card_id: str) -> None:
        del self.cards[card_id]

    def view(self) -> list[SavedCardView]:
        """What the resident sees: the last four digits and the expiry, never the rebill id."""
        return [
            {"card_id": c["card_id"], "last4": c["pan"][-4:], "exp_date": c["exp_date"]}
            for c in self.cards.values()
        ]
