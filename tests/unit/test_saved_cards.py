"""A resident's saved cards keep what the acquirer shows of a card, never its number."""

from __future__ import annotations

import pytest

from ledger.domain import SavedCards
from ledger.errors import InvalidCardError, UnknownSavedCardError


def cards() -> SavedCards:
    return SavedCards(id=SavedCards.id_for("payer-anna"), payer_id="payer-anna")


def test_a_masked_card_is_saved_once_and_shown_by_its_last_four_digits() -> None:
    saved = cards()
    assert saved.save(
        card_id="881900", rebill_id="1586769", pan="430000******0777", exp_date="1122"
    )
    assert not saved.save(
        card_id="881900", rebill_id="1586769", pan="430000******0777", exp_date="1122"
    )
    assert saved.view() == [{"card_id": "881900", "last4": "0777", "exp_date": "1122"}]
    assert len(saved.collect_events()) == 2  # started, saved: the repeat recorded nothing


@pytest.mark.parametrize("pan", ["4300000000000777", "4300 0000 0000 0777", ""])
def test_a_card_number_that_is_not_masked_is_refused(pan: str) -> None:
    with pytest.raises(InvalidCardError):
        cards().save(card_id="1", rebill_id="2", pan=pan, exp_date="1122")


def test_a_removed_card_is_gone_and_cannot_be_removed_twice() -> None:
    saved = cards()
    saved.save(card_id="881900", rebill_id="1586769", pan="430000******0777", exp_date="1122")
    saved.remove(card_id="881900")
    assert saved.view() == []
    with pytest.raises(UnknownSavedCardError):
        saved.remove(card_id="881900")
