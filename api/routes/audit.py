"""Auditors over HTTP: the event feed with its hash chain, checkpoints, as-of balances, receipts.

The chain is kept by the follower api/bootstrap.py runs in embedded mode (SQLite), and by the
`kvit audit follow` process on PostgreSQL.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import AuditSettingsDep, ChainIfKeptDep, LedgerDep, ReaderDep, kept
from api.problems import ApiProblem, NotFoundProblem, responses
from api.schemas import PaymentDetail
from audit import export as feed
from audit.proof import receipt
from audit.service import latest_checkpoint
from audit.signing import public_hex, signing_key
from audit.store import AuditStore
from ledger.application import Ledger
from projections import as_of as history
from projections.results import AccountBalance

MAX_AFTER = 2**63 - 2
"""Positions are signed 64-bit in both stores, and `after + 1` must still be one."""


class InvalidAsOfProblem(ApiProblem):
    status, code, title = 422, "invalid_as_of", "as_of is not a log position or a time"


router = APIRouter(prefix="/v1/audit", tags=["audit"])


# --- schemas -----------------------------------------------------------------------------------
class EventPage(BaseModel):
    events: list[dict[str, Any]]
    next_after: int
    """Pass as `after` for the next page."""
    done: bool
    """True when the page reached the end of the log."""


class ChainEntry(BaseModel):
    position: int
    version: int
    topic: str
    timestamp: str
    event_hash: str
    seq: int | None
    chain_hash: str | None
    matches_chain: bool


class Receipt(BaseModel):
    """Where the payment sits in the audited history."""

    position: int
    """Of the payment's newest event."""
    chain_hash: str | None
    status: str
    """pending (not chained yet) | chained | sealed (a signed checkpoint covers it)"""
    events: list[ChainEntry]
    checkpoint: dict[str, Any] | None
    """The first signed checkpoint at or after `position`."""


class PaymentWithReceipt(PaymentDetail):
    receipt: Receipt | None = None


class LedgerAccountOut(BaseModel):
    account: str
    debits: int
    credits: int
    balance: int
    """Debit-positive: wallets and payables are negative."""
    as_of: int


# --- helpers the account and payment routes use -------------------------------------------------
def parse_as_of(text: str) -> tuple[int | None, Any]:
    try:
        return history.parse_as_of(text)
    except ValueError as error:
        raise InvalidAsOfProblem(
            f"as_of must be a log position or an ISO 8601 time with a zone: {error}",
            as_of=text,
        ) from None


def resolve(ledger: Ledger, store: AuditStore | None, as_of: str) -> int:
    position, moment = parse_as_of(as_of)
    return history.resolve(ledger, store, position=position, at=moment)


def account_as_of(
    ledger: Ledger, store: AuditStore | None, account_id: UUID, as_of: str
) -> AccountBalance:
    """The personal account as it was at `as_of`, recomputed from the log."""
    upto = resolve(ledger, store, as_of)
    found = history.account_as_of(ledger, store, account_id, upto)
    if found is None:
        raise NotFoundProblem(
            f"personal account {account_id} did not exist at position {upto}",
            account_id=str(account_id),
            as_of=upto,
        )
    return found


def receipt_of(store: AuditStore | None, payment_id: UUID) -> Receipt | None:
    if store is None:
        return None
    found = receipt(request.app.state.ledger, store, payment_id)
    return Receipt.model_validate(found) if found else None


# --- routes --------------------------------------------------------------------------------------
@router.get("/events", response_model=EventPage, responses=responses(403, 503))
def events(
    caller: ReaderDep,
    ledger: LedgerDep,
    store: ChainIfKeptDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_AFTER, description="the last position already read")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=feed.MAX_PAGE)] = 100,
) -> EventPage:
    """The log, paged, in position order, exactly as `kvit audit export` writes it: each event
    with its stored state (base64), decoded fields, and the chain hash recorded for it."""
    got = feed.page(ledger, kept(store), after=after, limit=limit)
    return EventPage(events=got.lines, next_after=got.next_after, done=got.done)


@router.get("/checkpoints", responses=responses(403, 503))
def checkpoints(
    caller: ReaderDep,
    store: ChainIfKeptDep,
    after: Annotated[int, Query(ge=0, le=MAX_AFTER)] = 0,
) -> list[dict[str, Any]]:
    """Signed checkpoints after a position. Keep them outside our database."""
    return [c for c in kept(store).checkpoints(at_or_after=after + 1)]


@router.get("/checkpoints/latest", responses=responses(403, 404, 503))
def latest(caller: ReaderDep, store: ChainIfKeptDep) -> dict[str, Any]:
    found = latest_checkpoint(kept(store))
    if found is None:
        raise NotFoundProblem("no checkpoint has been signed yet")
    return found


@router.get("/public-key", responses=responses(403, 404))
def public_key(caller: ReaderDep, settings: AuditSettingsDep) -> dict[str, str]:
    """The Ed25519 key checkpoints are signed with (hex); compare it with the one you were
    given out of band."""
    try:
        key = public_hex(signing_key(settings))
    except RuntimeError:
        raise NotFoundProblem("this server holds no signing key") from None
    return {"public_key": key}


@router.get(
    "/ledger-accounts/{name}", response_model=LedgerAccountOut, responses=responses(403, 422)
)
def ledger_account(
    name: str,
    caller: ReaderDep,
    ledger: LedgerDep,
    store: ChainIfKeptDep,
    as_of: Annotated[str | None, Query(description="a log position or an ISO time")] = None,
) -> LedgerAccountOut:
    """A ledger account's balance (`wallet:<id>`, `payable:<supplier>:<account>`,
    `acquirer:clearing`) as of a position or time, summed from the log's postings."""
    upto = (
        resolve(ledger, store, as_of)
        if as_of
        else history.resolve(ledger, None, position=None, at=None)
    )
    found = history.ledger_account_as_of(ledger, name, upto)
    return LedgerAccountOut(**found.__dict__, as_of=upto)


AsOfQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="as it was at this log position, or at this ISO 8601 time (with a zone);"
        " recomputed from the event log",
    ),
]
