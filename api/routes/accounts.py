"""Personal accounts and their bills: opened by operators, read with projected balances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal, get_args
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AfterValidator, AwareDatetime

from api.auth import Caller, Role
from api.deps import (
    CallerDep,
    ChainIfKeptDep,
    KeyDep,
    LedgerDep,
    MinPositionDep,
    OperatorDep,
    ReadDep,
    ReaderDep,
    committed,
)
from api.masking import mask_address
from api.problems import LinkNotProvenProblem, NotFoundProblem, responses
from api.routes import audit
from api.schemas import (
    AccountOut,
    BalanceOut,
    BillIssued,
    BillOut,
    ConfirmPayer,
    Created,
    HistoryItem,
    HistoryPage,
    IssueBill,
    OpenAccount,
)
from projections import queries
from projections.read_models import ReadModels
from projections.results import AccountBalance, PaymentEntry, PaymentPage

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


def account_out(balance: AccountBalance, *, limited: bool = False) -> AccountOut:
    """`limited`: for a payer whose link is not proven, a masked address and what is due."""
    if limited:
        return AccountOut(
            id=balance.account_id,
            supplier_id=balance.supplier_id,
            supplier_inn=balance.supplier_inn,
            account_number=balance.account_number,
            els=None,
            address=mask_address(balance.address),
            balance=BalanceOut(
                accrued=None, paid=None, refunded=None, due=balance.due, advance=None
            ),
            bills=[],
            as_of=balance.as_of,
            access="limited",
        )
    return AccountOut(
        id=balance.account_id,
        supplier_id=balance.supplier_id,
        supplier_inn=balance.supplier_inn,
        account_number=balance.account_number,
        els=balance.els,
        address=balance.address,
        balance=BalanceOut(
            accrued=balance.accrued,
            paid=balance.paid,
            refunded=balance.refunded,
            due=balance.due,
            advance=balance.advance,
        ),
        bills=[
            BillOut(
                id=b.bill_id,
                document_id=b.document_id or "",
                period=b.period or "",
                due_date=b.due_date or "",
                amount_due=b.amount_due,
                paid=b.paid,
                status=b.status,
                replaces=b.replaces,
                replaced_by=b.replaced_by,
            )
            for b in balance.bills
        ],
        as_of=balance.as_of,
    )


def visible_account(
    rm: ReadModels, caller: Caller, account_id: UUID, min_position: int = 0
) -> AccountBalance:
    """The account, if the caller may see it. To a resident, an unlinked account is a 404."""
    balance = queries.account_balance(rm, account_id, min_position=min_position)
    if balance is None or (
        caller.role == Role.RESIDENT and caller.payer_id not in balance.payer_ids
    ):
        raise NotFoundProblem(f"no personal account {account_id}", account_id=str(account_id))
    return balance


def limited_for(caller: Caller, balance: AccountBalance) -> bool:
    """A resident sees an account's personal data only once their link is proven."""
    return caller.role == Role.RESIDENT and caller.payer_id not in balance.proven_payer_ids


def shown(caller: Caller, balance: AccountBalance) -> AccountOut:
    return account_out(balance, limited=limited_for(caller, balance))


@router.post("", status_code=201, response_model=Created, responses=responses(400, 403, 404, 409))
def open_account(
    body: OpenAccount,
    caller: OperatorDep,
    key: KeyDep,
    ledger: LedgerDep,
    rm: ReadDep,
    response: Response,
) -> Created:
    outcome = ledger.open_account(
        supplier_id=body.supplier_id,
        account_number=body.account_number,
        els=body.els,
        address=body.address,
        idempotency_key=key,
        scope=caller.scope,
    )
    committed(outcome, response, rm)
    return Created(id=outcome.result["account_id"])


@router.post(
    "/{account_id}/bills",
    status_code=201,
    response_model=BillIssued,
    responses=responses(400, 403, 404, 409),
)
def issue_bill(
    account_id: UUID,
    body: IssueBill,
    caller: OperatorDep,
    key: KeyDep,
    ledger: LedgerDep,
    rm: ReadDep,
    response: Response,
) -> BillIssued:
    outcome = ledger.issue_bill(
        account_id=account_id,
        document_id=body.document_id,
        uin=body.uin,
        period=body.period,
        lines=[line.model_dump() for line in body.lines],  # type: ignore[misc]
        due_date=body.due_date.isoformat(),
        replaces=body.replaces,
        idempotency_key=key,
        scope=caller.scope,
    )
    committed(outcome, response, rm)
    return BillIssued(id=outcome.result["bill_id"], amount_due=outcome.result["amount_due"])


MinPosition = MinPositionDep  # a query parameter, checked against the log's head


@router.get("/{account_id}", response_model=AccountOut, responses=responses(404, 422, 503))
def get_account(
    account_id: UUID,
    caller: CallerDep,
    rm: ReadDep,
    ledger: LedgerDep,
    chain: ChainIfKeptDep,
    min_position: MinPosition = 0,
    as_of: audit.AsOfQuery = None,
) -> AccountOut:
    balance = visible_account(rm, caller, account_id, min_position)
    if limited_for(caller, balance):
        if as_of is not None:
            raise LinkNotProvenProblem(
                "the account's history needs a proven link", account_id=str(account_id)
            )
        return account_out(balance, limited=True)
    if as_of is not None:  # as it was then, recomputed from the log (routes/audit.py)
        balance = audit.account_as_of(ledger, chain, account_id, as_of)
    return account_out(balance)


@router.post(
    "/{account_id}/payers", response_model=AccountOut, responses=responses(400, 403, 404, 503)
)
def confirm_payer(
    account_id: UUID,
    body: ConfirmPayer,
    caller: OperatorDep,
    key: KeyDep,
    ledger: LedgerDep,
    rm: ReadDep,
    response: Response,
) -> AccountOut:
    """An operator confirms that a payer holds the account (e.g. after seeing a contract): the
    payer's link is proven and shows the account in full. Safe to repeat."""
    outcome = ledger.confirm_payer(
        account_id=account_id, payer_id=body.payer_id, idempotency_key=key, scope=caller.scope
    )
    position = committed(outcome, response, rm)
    return account_out(visible_account(rm, caller, account_id, position))


StatusFilter = Literal[
    "requires_confirmation",
    "processing",
    "succeeded",
    "failed",
    "canceled",
    "partially_refunded",
    "refunded",
    "annulled",
]
assert set(get_args(StatusFilter)) == queries.STATUSES


def in_utc_range(moment: datetime) -> datetime:
    """The read side compares fixed-width UTC text: the moment must have a 4-digit UTC year."""
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        year = 0
    if year < 1000:
        raise ValueError("the moment is out of range (years 1000–9999 in UTC)")
    return moment


Moment = Annotated[
    AwareDatetime | None,
    AfterValidator(lambda m: None if m is None else in_utc_range(m)),
    Query(description="ISO 8601 with a time zone, e.g. 2026-03-01T00:00:00+03:00"),
]


@dataclass(frozen=True)
class HistoryFilters:
    """Query parameters shared by every payment-history route."""

    cursor: str | None
    limit: int
    statuses: tuple[str, ...]
    period: str | None
    created_from: datetime | None
    created_before: datetime | None
    min_position: int


async def history_filters(
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Annotated[list[StatusFilter] | None, Query(max_length=8)] = None,
    period: Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")] = None,
    created_from: Moment = None,
    created_before: Moment = None,
    min_position: MinPosition = 0,
) -> HistoryFilters:
    # `async`: FastAPI would run a sync (or class) dependency in the threadpool.
    return HistoryFilters(
        cursor, limit, tuple(status or ()), period, created_from, created_before, min_position
    )


HistoryFiltersDep = Annotated[HistoryFilters, Depends(history_filters)]


def history_item(entry: PaymentEntry) -> HistoryItem:
    return HistoryItem(
        id=entry.payment_id,
        status=entry.status,
        amount=entry.amount,
        refunded=entry.refunded,
        method=entry.method,
        payer_id=entry.payer_id,
        account_id=entry.account_id,
        supplier_id=entry.supplier_id,
        account_number=entry.account_number,
        bill_id=entry.bill_id,
        document_id=entry.document_id,
        period=entry.period,
        recipient_name=entry.recipient.get("name"),
        created_at=entry.created_at.isoformat(),
        updated_at=entry.updated_at.isoformat(),
        kind=entry.kind,  # type: ignore[arg-type]
        match_status=entry.match_status,
        matched=entry.matched,
        advance=entry.advance,
        order_id=entry.order_id,
        bank_bik=entry.bank_bik,
        order_date=entry.order_date,
        commission=entry.commission,
    )


def history_query(
    rm: ReadModels, filters: HistoryFilters, *, cached_only: bool = False, **scope: str
) -> PaymentPage | None:
    return queries.payment_history(
        rm,
        cached_only=cached_only,
        **scope,
        statuses=filters.statuses,
        period=filters.period,
        created_from=filters.created_from,
        created_before=filters.created_before,
        limit=filters.limit,
        cursor=filters.cursor,
        min_position=filters.min_position,
    )


def history_out(page: PaymentPage) -> HistoryPage:
    return HistoryPage(items=[history_item(e) for e in page.items], next_cursor=page.next_cursor)


@router.get(
    "/{account_id}/payments", response_model=HistoryPage, responses=responses(403, 404, 503)
)
def account_payments(
    account_id: UUID,
    caller: ReaderDep,
    rm: ReadDep,
    filters: HistoryFiltersDep,
) -> HistoryPage:
    """The account's payment history, newest first (residents use /v1/me/payments)."""
    visible_account(rm, caller, account_id, filters.min_position)
    page = history_query(rm, filters, account_id=str(account_id))
    assert page is not None  # None only with cached_only
    return history_out(page)
