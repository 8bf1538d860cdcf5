"""What routes share: the caller, the ledger, the read models, and the write epilogue.

The dependencies that only look at the request are `async def`: FastAPI runs a sync
dependency in the threadpool, and a profile of a cached read showed those hand-offs costing
more than the answer itself."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, Role, authenticate, require
from api.problems import (
    MissingIdempotencyKeyProblem,
    PositionNotInLogProblem,
)
from ledger.application import Ledger
from ledger.group_commit import Outcome
from projections.errors import ReadModelTimeoutError
from projections.read_models import ReadModels

POSITION_HEADER = "Kvit-Position"
REPLAYED_HEADER = "Idempotent-Replayed"
LAG_HEADER = "Kvit-Read-Models"
log = logging.getLogger("kvit.api")


# Declares the bearer scheme in the OpenAPI document, so "Authorize" works in /docs; the token
# itself is checked by `authenticate` (and before the body is read, by api/guards.py).
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="`kvit token --role operator|auditor` or `--role resident --payer ID`",
)


async def caller(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> Caller:
    return authenticate(request)  # CPU only: the token guard has usually decoded it already


CallerDep = Annotated[Caller, Depends(caller)]


async def ledger(request: Request) -> Ledger:
    return request.app.state.ledger  # type: ignore[no-any-return]


async def read_models(request: Request) -> ReadModels:
    return request.app.state.read_models  # type: ignore[no-any-return]


LedgerDep = Annotated[Ledger, Depends(ledger)]
ReadDep = Annotated[ReadModels, Depends(read_models)]


async def idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            description="Required: a retry with the same key and body returns the original result",
        ),
    ] = None,
) -> str:
    if not idempotency_key:
        raise MissingIdempotencyKeyProblem("send an Idempotency-Key header with this request")
    return idempotency_key


KeyDep = Annotated[str, Depends(idempotency_key)]


async def min_position(
    request: Request,
    min_position: Annotated[
        int, Query(ge=0, description="wait until the read models include this log position")
    ] = 0,
) -> int:
    """Read-your-writes. Every position a write returned is in the log, so one beyond its head
    is the client's mistake (422), not a lag worth a bounded wait and a 503."""
    # A position the read models have already applied is in the log: no round trip for it.
    if min_position > request.app.state.read_models.position():
        recorder = request.app.state.ledger.recorder
        head = await run_in_threadpool(recorder.max_notification_id) or 0
        if min_position > head:
            raise PositionNotInLogProblem(
                f"the log ends at position {head}", min_position=min_position, head=head
            )
    return min_position


MinPositionDep = Annotated[int, Depends(min_position)]


async def resident(caller: CallerDep) -> Caller:
    return require(caller, Role.RESIDENT)


async def operator(caller: CallerDep) -> Caller:
    return require(caller, Role.OPERATOR)


async def reader(caller: CallerDep) -> Caller:
    """Operators and auditors read everything."""
    return require(caller, Role.OPERATOR, Role.AUDITOR)


ResidentDep = Annotated[Caller, Depends(resident)]
OperatorDep = Annotated[Caller, Depends(operator)]
ReaderDep = Annotated[Caller, Depends(reader)]


def committed(outcome: Outcome, response: Response, rm: ReadModels) -> int:
    """Read-your-writes: return only once the read models include this write. A replay waits
    for the whole log as it is now, since the original write may have just committed in a
    concurrent request. Returns the position waited for."""
    position = outcome.position
    if outcome.result.get("replayed"):
        response.headers[REPLAYED_HEADER] = "true"
        position = rm.ledger.recorder.max_notification_id() or 0
    response.headers[POSITION_HEADER] = str(position)
    if position:
        rm.wake()
        try:
            rm.wait_for(position)
        except ReadModelTimeoutError:
            # The write is committed: report success, never a failure the client might act on.
            log.warning("read models lag behind position %s", outcome.position)
            response.headers[LAG_HEADER] = "lagging"
    return position
