"""Auditors over HTTP: the event feed with its hash chain, checkpoints, as-of balances, receipts.

The chain is kept by the follower api/bootstrap.py runs in embedded mode (SQLite), and by the
`kvit audit follow` process on PostgreSQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.audited import resolve
from api.deps import AuditSettingsDep, ChainIfKeptDep, LogReadsDep, ReaderDep, require_chain
from api.problems import NotFoundProblem, responses
from api.schemas.audit import EventPage, LedgerAccountOut
from audit import export as feed
from audit.service import latest_checkpoint
from audit.signing import public_hex, signing_key
from projections import as_of as history

MAX_AFTER = 2**63 - 2
"""Positions are signed 64-bit in both stores, and `after + 1` must still be one."""


router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/events", response_model=EventPage, responses=responses(403, 503))
def events(
    caller: ReaderDep,
    reads: LogReadsDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_AFTER, description="the last position already read")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=feed.MAX_PAGE)] = 100,
) -> EventPage:
    """The log, paged, in position order, exactly as `kvit audit export` writes it: each event
    with its stored state (base64), decoded fields, and the chain hash recorded for it."""
    reader = reads.reader()  # the read replica when it has every acknowledged write
    got = feed.page(reader.ledger, require_chain(reader.store), after=after, limit=limit)
    return EventPage(events=got.lines, next_after=got.next_after, done=got.done)


@router.get("/checkpoints", responses=responses(403, 503))
def checkpoints(
    caller: ReaderDep,
    store: ChainIfKeptDep,
    after: Annotated[int, Query(ge=0, le=MAX_AFTER)] = 0,
) -> list[dict[str, Any]]:
    """Signed checkpoints after a position. Keep them outside our database."""
    return [c for c in require_chain(store).checkpoints(at_or_after=after + 1)]


@router.get("/checkpoints/latest", responses=responses(403, 404, 503))
def latest(caller: ReaderDep, store: ChainIfKeptDep) -> dict[str, Any]:
    found = latest_checkpoint(require_chain(store))
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
    reads: LogReadsDep,
    as_of: Annotated[str | None, Query(description="a log position or an ISO time")] = None,
) -> LedgerAccountOut:
    """A ledger account's balance (`wallet:<id>`, `payable:<supplier>:<account>`,
    `acquirer:clearing`) as of a position or time, summed from the log's postings."""
    reader = reads.reader()
    ledger, store = reader.ledger, reader.store
    upto = (
        resolve(ledger, store, as_of)
        if as_of
        else history.resolve(ledger, None, position=None, at=None)
    )
    found = history.ledger_account_as_of(ledger, name, upto)
    return LedgerAccountOut(**found.__dict__, as_of=upto)
