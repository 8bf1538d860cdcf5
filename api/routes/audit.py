"""Auditors over HTTP: the event feed with its hash chain, checkpoints, as-of balances, receipts.

In embedded mode (SQLite) this router's lifespan also runs the chain follower, which signs a
checkpoint every `KVIT_AUDIT_CHECKPOINT_EVERY_EVENTS` events (or interval); on PostgreSQL that
is the `kvit audit follow` process's job.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel

from api.deps import LedgerDep, ReaderDep
from api.problems import ApiProblem, NotFoundProblem, responses
from api.schemas import PaymentDetail
from audit import export as feed
from audit.chain import ChainFollower, Checkpointer
from audit.proof import receipt
from audit.service import latest_checkpoint, sign_head
from audit.signing import AuditSettings, public_hex, signing_key
from audit.store import AuditStore
from projections import as_of as history
from projections.results import AccountBalance

log = logging.getLogger("kvit.api")
MAX_AFTER = 2**63 - 2
"""Positions are signed 64-bit in both stores, and `after + 1` must still be one."""


class InvalidAsOfProblem(ApiProblem):
    status, code, title = 422, "invalid_as_of", "as_of is not a log position or a time"


class ChainUnavailableProblem(ApiProblem):
    status, code, title = 503, "audit_unavailable", "The audit chain is not kept here"


# --- lifespan: the audit store, and the embedded chain follower ---------------------------------
def _store_for(app: FastAPI) -> AuditStore | None:
    recorder = type(app.state.ledger.recorder).__module__
    if recorder.startswith("eventsourcing.popo"):
        return None  # in memory: there is no database to keep a chain in
    return AuditStore.open(app.state.settings)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    store = _store_for(app)
    app.state.audit_store = store
    follower = None
    settings = AuditSettings(**app.state.settings.model_dump())
    if store is not None and not settings.uses_postgres:
        store.ensure_tables()
        signing_key(settings)  # generated once into the data dir
        checkpointer = Checkpointer(
            lambda head: sign_head(settings, store, head),
            every_events=settings.audit_checkpoint_every_events,
            interval=settings.audit_checkpoint_interval_seconds,
            last=store.head(),
        )
        follower = ChainFollower(app.state.ledger, store, on_progress=checkpointer)
        follower.start()
    yield
    if follower is not None:
        follower.stop()
        follower.join(5)
    if store is not None:
        store.close()


router = APIRouter(prefix="/v1/audit", tags=["audit"], lifespan=lifespan)


def audit_store(request: Request) -> AuditStore:
    store: AuditStore | None = getattr(request.app.state, "audit_store", None)
    if store is None:
        raise ChainUnavailableProblem("this server keeps its log in memory; there is no chain")
    return store


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


def resolve(request: Request, as_of: str) -> int:
    position, moment = parse_as_of(as_of)
    store = getattr(request.app.state, "audit_store", None)
    return history.resolve(request.app.state.ledger, store, position=position, at=moment)


def account_as_of(request: Request, account_id: UUID, as_of: str) -> AccountBalance:
    """The personal account as it was at `as_of`, recomputed from the log."""
    upto = resolve(request, as_of)
    store = getattr(request.app.state, "audit_store", None)
    found = history.account_as_of(request.app.state.ledger, store, account_id, upto)
    if found is None:
        raise NotFoundProblem(
            f"personal account {account_id} did not exist at position {upto}",
            account_id=str(account_id),
            as_of=upto,
        )
    return found


def receipt_of(request: Request, payment_id: UUID) -> Receipt | None:
    store = getattr(request.app.state, "audit_store", None)
    if store is None:
        return None
    found = receipt(request.app.state.ledger, store, payment_id)
    return Receipt.model_validate(found) if found else None


# --- routes --------------------------------------------------------------------------------------
@router.get("/events", response_model=EventPage, responses=responses(403, 503))
def events(
    request: Request,
    caller: ReaderDep,
    ledger: LedgerDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_AFTER, description="the last position already read")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=feed.MAX_PAGE)] = 100,
) -> EventPage:
    """The log, paged, in position order, exactly as `kvit audit export` writes it: each event
    with its stored state (base64), decoded fields, and the chain hash recorded for it."""
    got = feed.page(ledger, audit_store(request), after=after, limit=limit)
    return EventPage(events=got.lines, next_after=got.next_after, done=got.done)


@router.get("/checkpoints", responses=responses(403, 503))
def checkpoints(
    request: Request,
    caller: ReaderDep,
    after: Annotated[int, Query(ge=0, le=MAX_AFTER)] = 0,
) -> list[dict[str, Any]]:
    """Signed checkpoints after a position. Keep them outside our database."""
    return [c for c in audit_store(request).checkpoints(at_or_after=after + 1)]


@router.get("/checkpoints/latest", responses=responses(403, 404, 503))
def latest(request: Request, caller: ReaderDep) -> dict[str, Any]:
    found = latest_checkpoint(audit_store(request))
    if found is None:
        raise NotFoundProblem("no checkpoint has been signed yet")
    return found


@router.get("/public-key", responses=responses(403, 404))
def public_key(request: Request, caller: ReaderDep) -> dict[str, str]:
    """The Ed25519 key checkpoints are signed with (hex); compare it with the one you were
    given out of band."""
    try:
        key = public_hex(signing_key(AuditSettings(**request.app.state.settings.model_dump())))
    except RuntimeError:
        raise NotFoundProblem("this server holds no signing key") from None
    return {"public_key": key}


@router.get(
    "/ledger-accounts/{name}", response_model=LedgerAccountOut, responses=responses(403, 422)
)
def ledger_account(
    request: Request,
    name: str,
    caller: ReaderDep,
    as_of: Annotated[str | None, Query(description="a log position or an ISO time")] = None,
) -> LedgerAccountOut:
    """A ledger account's balance (`wallet:<id>`, `payable:<supplier>:<account>`,
    `acquirer:clearing`) as of a position or time, summed from the log's postings."""
    upto = (
        resolve(request, as_of)
        if as_of
        else history.resolve(request.app.state.ledger, None, position=None, at=None)
    )
    found = history.ledger_account_as_of(request.app.state.ledger, name, upto)
    return LedgerAccountOut(**found.__dict__, as_of=upto)


AsOfQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="as it was at this log position, or at this ISO 8601 time (with a zone);"
        " recomputed from the event log",
    ),
]
