"""The resident's own things: linked accounts, wallets, payment history."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from uuid import UUID

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api import writes
from api.account_access import account_out, shown, visible_account
from api.deps import (
    KeyDep,
    LedgerDep,
    LinkAttemptsDep,
    MinPositionDep,
    ReadDep,
    ResidentDep,
)
from api.history import HistoryFiltersDep, history_out, history_query
from api.link_attempts import account_subject
from api.problems import responses
from api.rendered import RenderedBodies
from api.schemas.accounts import AccountList, AccountOut, LinkAccountBody
from api.schemas.payments import HistoryPage
from api.schemas.wallets import OpenWalletBody, WalletList, WalletOut
from ledger.domain.identifiers import parse_account_number, parse_document_id, parse_inn
from ledger.payments.commands import OpenWallet
from ledger.registry.commands import LinkPayer
from projections import queries
from projections.results import AccountBalance

router = APIRouter(prefix="/v1/me", tags=["resident"])


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountOut,
    responses=responses(400, 403, 404, 422, 429),
)
async def link_account(
    body: LinkAccountBody,
    caller: ResidentDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    attempts: LinkAttemptsDep,
    response: Response,
) -> AccountOut:
    """Link a personal account by the supplier's ИНН and the account number (as on the bill).
    Without `proof` the payer may pay for it and sees a masked address and what is due; with
    the ИПД printed on one of its current bills they see it in full (a bill total no longer
    proves it: 422 `validation_error`). Every attempt that does not prove possession (unknown
    account: 404 `unknown_account`; wrong ИПД: 422 `link_proof_mismatch` with the `field` to
    mark; or a link without proof) counts toward a limit per payer and one per account, as QR
    look-ups do: past either, 429 `link_attempts_exceeded` with Retry-After."""
    # Malformed input is refused before it is counted: it probes nothing.
    inn, number = parse_inn(body.supplier_inn), parse_account_number(body.account_number)
    document_id = parse_document_id(body.proof.document_id) if body.proof else None
    attempt = await run_in_threadpool(attempts.admit, caller, account_subject(inn, number))
    assert caller.payer_id is not None
    command = LinkPayer.parse(
        payer_id=caller.payer_id,
        supplier_inn=inn,
        account_number=number,
        idempotency_key=key,
        document_id=document_id,
    )
    outcome = await writes.execute(ledger, command)
    # Paying it next, through this worker, is no probe and needs no read to say so.
    read_models.links.add(caller.payer_id, outcome.result["account_id"])
    if outcome.result["proven"]:  # the bill was in hand: nothing was probed
        await run_in_threadpool(attempts.give_back, attempt)
    position = await writes.read_your_writes(outcome, response, read_models)
    # Waits again if the read models lag: a 503 the client can retry, never a false 404.
    account_id = UUID(outcome.result["account_id"])
    balance = await run_in_threadpool(visible_account, read_models, caller, account_id, position)
    return shown(caller, balance)


@router.get("/accounts", response_model=AccountList, responses=responses(403, 503))
async def my_accounts(
    caller: ResidentDep, read_models: ReadDep, min_position: MinPositionDep = 0
) -> Response:
    """Hot read: `async` so that an answer from the cache costs no threadpool hand-off, with its
    body rendered once per cached answer and position; only a miss (a query, maybe a
    read-your-writes wait) goes to a thread."""
    payer_id = caller.payer_id
    assert payer_id is not None
    hit = queries.cached_accounts_of_payer(read_models, payer_id, min_position)
    if hit is None:
        balances = await run_in_threadpool(
            queries.accounts_of_payer, read_models, payer_id, min_position=min_position
        )
        assert balances is not None
        return Response(accounts_body(balances, payer_id), media_type="application/json")
    found, as_of = hit
    body = ACCOUNT_BODIES.body(
        payer_id,
        found,
        as_of,
        lambda: accounts_body([replace(b, as_of=as_of) for b in found], payer_id),
    )
    return Response(body, media_type="application/json")


def accounts_body(balances: list[AccountBalance], payer_id: str) -> bytes:
    """What the payer may see of each account: all of it once their link is proven."""
    items = [account_out(b, limited=payer_id not in b.proven_payer_ids) for b in balances]
    return AccountList(items=items).model_dump_json().encode()


ACCOUNT_BODIES = RenderedBodies()


@router.post("/wallets", status_code=201, response_model=WalletOut, responses=responses(400, 403))
async def open_wallet(
    caller: ResidentDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    response: Response,
    body: OpenWalletBody | None = None,
) -> WalletOut:
    assert caller.payer_id is not None
    outcome = await writes.execute(
        ledger, OpenWallet(payer_id=caller.payer_id, idempotency_key=key)
    )
    position = await writes.read_your_writes(outcome, response, read_models)
    # From the write side, so the answer does not depend on the read models having caught up:
    # a new wallet is empty; a replay shows the wallet as it is now (it may have been funded).
    balance = 0
    if outcome.replayed:
        wallet = await run_in_threadpool(
            partial(ledger.get_wallet, UUID(outcome.result["wallet_id"]), payer_id=caller.payer_id)
        )
        balance = wallet.balance
    return WalletOut(
        id=outcome.result["wallet_id"], payer_id=caller.payer_id, balance=balance, as_of=position
    )


@router.get("/wallets", response_model=WalletList, responses=responses(403, 503))
def my_wallets(
    caller: ResidentDep, read_models: ReadDep, min_position: MinPositionDep = 0
) -> WalletList:
    """The resident's wallets with their balances (none until one is opened)."""
    assert caller.payer_id is not None
    wallets = queries.wallets_of_payer(read_models, caller.payer_id, min_position=min_position)
    return WalletList(
        items=[
            WalletOut(id=w.wallet_id, payer_id=w.payer_id, balance=w.balance, as_of=w.as_of)
            for w in wallets
        ]
    )


@router.get("/payments", response_model=HistoryPage, responses=responses(403, 503))
async def my_payments(
    caller: ResidentDep, read_models: ReadDep, filters: HistoryFiltersDep
) -> Response:
    """The resident's payment history, newest first, with cursor pagination and filters.
    Served from the cache without a thread when it holds the page (as `my_accounts`), and
    with the body rendered once per cached page."""
    assert caller.payer_id is not None
    page = history_query(read_models, filters, cached_only=True, payer_id=caller.payer_id)
    if page is None:
        page = await run_in_threadpool(
            history_query, read_models, filters, payer_id=caller.payer_id
        )
    assert page is not None
    found = page

    def render() -> bytes:
        return history_out(found).model_dump_json().encode()

    key = (caller.payer_id, replace(filters, min_position=0))
    body = HISTORY_BODIES.body(key, page.items, page.next_cursor, render)
    return Response(body, media_type="application/json")


HISTORY_BODIES = RenderedBodies()
