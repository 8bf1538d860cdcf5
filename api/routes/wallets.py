"""Wallets: read by their owner and auditors; topped up by card through the acquirer."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api import writes
from api.acquirer.checkout import ensure_checkout, top_up_order
from api.auth import Caller, Role, require
from api.deps import (
    AcquirerDep,
    CallerDep,
    KeyDep,
    LedgerDep,
    MinPositionDep,
    ReadDep,
    ResidentDep,
    card_acquirer,
)
from api.problems import NotFoundProblem, responses
from api.schemas.wallets import TopUpBody, TopUpOut, WalletOut
from projections import queries
from projections.read_models import ReadModels

router = APIRouter(prefix="/v1/wallets", tags=["wallets"])


def wallet_out(
    read_models: ReadModels, caller: Caller, wallet_id: UUID | str, min_position: int = 0
) -> WalletOut:
    """The wallet if the caller may see it: its owner or an auditor. Others get a 404."""
    wallet = queries.wallet_balance(read_models, wallet_id, min_position=min_position)
    visible = wallet is not None and (
        caller.role == Role.AUDITOR or wallet.payer_id == caller.payer_id
    )
    if not visible:
        raise NotFoundProblem(f"no wallet {wallet_id}", wallet_id=str(wallet_id))
    assert wallet is not None
    return WalletOut(
        id=wallet.wallet_id, payer_id=wallet.payer_id, balance=wallet.balance, as_of=wallet.as_of
    )


@router.get("/{wallet_id}", response_model=WalletOut, responses=responses(403, 404, 503))
def get_wallet(
    wallet_id: UUID, caller: CallerDep, read_models: ReadDep, min_position: MinPositionDep = 0
) -> WalletOut:
    require(caller, Role.RESIDENT, Role.AUDITOR)
    return wallet_out(read_models, caller, wallet_id, min_position)


@router.post(
    "/{wallet_id}/top-ups",
    status_code=201,
    response_model=TopUpOut,
    responses=responses(400, 403, 404, 501),
)
async def top_up(
    wallet_id: UUID,
    body: TopUpBody,
    caller: ResidentDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    acquirer: AcquirerDep,
    response: Response,
) -> TopUpOut:
    """Top up by card: pay at `checkout_url`; the wallet is credited when the acquirer reports
    success to the webhook. With no acquirer: 501 `card_payments_unavailable`, nothing
    recorded."""
    assert caller.payer_id is not None
    card = card_acquirer(acquirer)
    outcome = await writes.execute(
        ledger, body.command(wallet_id=wallet_id, payer_id=caller.payer_id, idempotency_key=key)
    )
    await writes.read_your_writes(outcome, response, read_models)
    top_up_id = UUID(outcome.result["top_up_id"])
    order = top_up_order(top_up_id, caller.payer_id, body.amount)
    checkout = await run_in_threadpool(ensure_checkout, ledger, card, order)  # the acquirer
    return TopUpOut(
        id=top_up_id,
        status=outcome.result["status"],
        amount=body.amount,
        checkout_url=checkout.payment_url,
    )
