"""Personal accounts and their bills: opened by the unscoped operator or the supplier's own,
read with projected balances."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api import writes
from api.account_access import account_out, limited_for, visible_account
from api.audited import AsOfQuery, account_as_of
from api.deps import (
    CallerDep,
    KeyDep,
    LedgerDep,
    LogReadsDep,
    MinPositionDep,
    ReadDep,
    SupplierAgentDep,
    SupplierReaderDep,
)
from api.history import HistoryFiltersDep, history_out, history_query
from api.operator_scopes import require_account_in_scope, require_in_scope
from api.problems import LinkNotProvenProblem, responses
from api.schemas.accounts import (
    AccountOut,
    BillIssued,
    ConfirmPayerBody,
    IssueBillBody,
    OpenAccountBody,
)
from api.schemas.common import Created
from api.schemas.payments import HistoryPage
from projections import models

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.post("", status_code=201, response_model=Created, responses=responses(400, 403, 404, 409))
async def open_account(
    body: OpenAccountBody,
    caller: SupplierAgentDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    response: Response,
) -> Created:
    require_in_scope(caller, supplier_id=body.supplier_id)
    outcome = await writes.execute(ledger, body.command(idempotency_key=key, scope=caller.scope))
    await writes.read_your_writes(outcome, response, read_models, models.NAMES)
    return Created(id=outcome.result["account_id"])


@router.post(
    "/{account_id}/bills",
    status_code=201,
    response_model=BillIssued,
    responses=responses(400, 403, 404, 409),
)
async def issue_bill(
    account_id: UUID,
    body: IssueBillBody,
    caller: SupplierAgentDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    response: Response,
) -> BillIssued:
    await run_in_threadpool(require_account_in_scope, caller, ledger, account_id)
    command = body.command(account_id=account_id, idempotency_key=key, scope=caller.scope)
    outcome = await writes.execute(ledger, command)
    await writes.read_your_writes(outcome, response, read_models, models.NAMES)
    return BillIssued(id=outcome.result["bill_id"], amount_due=outcome.result["amount_due"])


@router.get("/{account_id}", response_model=AccountOut, responses=responses(403, 404, 422, 503))
def get_account(
    account_id: UUID,
    caller: CallerDep,
    read_models: ReadDep,
    reads: LogReadsDep,
    min_position: MinPositionDep = 0,
    as_of: AsOfQuery = None,
) -> AccountOut:
    balance = visible_account(read_models, caller, account_id, min_position)
    if limited_for(caller, balance):
        if as_of is not None:
            raise LinkNotProvenProblem(
                "the account's history needs a proven link", account_id=str(account_id)
            )
        return account_out(balance, limited=True)
    if as_of is not None:  # as it was then, recomputed from the log (api/audited.py)
        reader = reads.reader()  # the read replica when it has every acknowledged write
        balance = account_as_of(reader.ledger, reader.store, account_id, as_of)
    return account_out(balance)


@router.post(
    "/{account_id}/payers", response_model=AccountOut, responses=responses(400, 403, 404, 503)
)
async def confirm_payer(
    account_id: UUID,
    body: ConfirmPayerBody,
    caller: SupplierAgentDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    response: Response,
) -> AccountOut:
    """An operator confirms that a payer holds the account (e.g. after seeing a contract): the
    payer's link is proven and shows the account in full. Safe to repeat."""
    await run_in_threadpool(require_account_in_scope, caller, ledger, account_id)
    command = body.command(account_id=account_id, idempotency_key=key, scope=caller.scope)
    outcome = await writes.execute(ledger, command)
    position = await writes.read_your_writes(outcome, response, read_models, models.NAMES)
    balance = await run_in_threadpool(visible_account, read_models, caller, account_id, position)
    return account_out(balance)


@router.get(
    "/{account_id}/payments", response_model=HistoryPage, responses=responses(403, 404, 503)
)
def account_payments(
    account_id: UUID,
    caller: SupplierReaderDep,
    read_models: ReadDep,
    filters: HistoryFiltersDep,
) -> HistoryPage:
    """The account's payment history, newest first (residents use /v1/me/payments)."""
    visible_account(read_models, caller, account_id, filters.min_position)
    page = history_query(read_models, filters, account_id=str(account_id))
    assert page is not None  # None only with cached_only
    return history_out(page)
