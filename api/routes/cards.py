"""A resident's saved cards: listed, and removed at the acquirer and in the ledger."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api import writes
from api.acquirer.checkout import api_of, call
from api.deps import AcquirerDep, LedgerDep, ReadDep, ResidentDep, card_acquirer
from api.problems import responses
from api.schemas.cards import SavedCardList, SavedCardOut
from ledger.errors import UnknownSavedCardError
from ledger.payments.cards import saved_cards_of
from ledger.payments.commands import RemoveSavedCard

router = APIRouter(prefix="/v1/me/cards", tags=["resident"])


@router.get("", response_model=SavedCardList, responses=responses(403))
def list_cards(caller: ResidentDep, ledger: LedgerDep) -> SavedCardList:
    """Cards saved by earlier card payments (`save_card`): the last four digits and expiry."""
    assert caller.payer_id is not None
    cards = ledger.read(partial(saved_cards_of, payer_id=caller.payer_id))
    return SavedCardList(
        items=[SavedCardOut(**card) for card in (cards.view() if cards is not None else [])]
    )


@router.delete(
    "/{card_id}", status_code=204, response_class=Response, responses=responses(403, 404, 501)
)
async def remove_card(
    card_id: str,
    caller: ResidentDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    acquirer: AcquirerDep,
    response: Response,
) -> Response:
    """Removed at the acquirer first (`RemoveCard`), so it can never be charged again, then
    from the resident's list."""
    assert caller.payer_id is not None
    payer_id = caller.payer_id

    def remove_at_acquirer() -> None:  # a store read, then the acquirer's API: in a thread
        cards = ledger.read(partial(saved_cards_of, payer_id=payer_id))
        if cards is None or card_id not in cards.cards:
            raise UnknownSavedCardError(f"no saved card {card_id}", card_id=card_id)
        call(api_of(card_acquirer(acquirer)).remove_card, cards.customer_key, card_id)

    await run_in_threadpool(remove_at_acquirer)
    outcome = await writes.execute(ledger, RemoveSavedCard(payer_id=payer_id, card_id=card_id))
    await writes.read_your_writes(outcome, response, read_models)
    return Response(status_code=204, headers=dict(response.headers))
