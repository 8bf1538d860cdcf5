"""What routes share: the caller, what api/bootstrap.py wired, and the write epilogue.

The only module besides api/app.py that reads `app.state`: routes declare what they need as
`Annotated` dependencies.

The dependencies that only look at the request are `async def`: FastAPI runs a sync
dependency in the threadpool, and a profile of a cached read showed those hand-offs costing
more than the answer itself."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.acquirer.base import Acquirer
from api.auth import Caller, Role, require
from api.bootstrap import Running, Services
from api.callers import authenticate_caller
from api.link_attempts import LinkAttempts
from api.problems import (
    CardPaymentsUnavailableProblem,
    ChainUnavailableProblem,
    MissingIdempotencyKeyProblem,
    PositionNotInLogProblem,
)
from api.replica import LogReads
from api.settings import ApiSettings
from audit.signing import AuditSettings
from audit.store import AuditStore
from ledger.application import Ledger
from ledger.engine.group_commit import Outcome
from projections import models
from projections.errors import ReadModelTimeoutError
from projections.read_models import ReadModels
from storage.log import head as log_head

POSITION_HEADER = "Kvit-Position"
REPLAYED_HEADER = "Idempotent-Replayed"
LAG_HEADER = "Kvit-Read-Models"
log = logging.getLogger("kvit.api")


# Declares the bearer scheme in the OpenAPI document, so "Authorize" works in /docs; the token
# itself is checked by `authenticate` (and before the body is read, by api/guards.py).
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description=(
        "`kvit token --role operator|auditor`, `--role bank --bik БИК`, "
        "`--role supplier --inn ИНН` or `--role resident --payer ID`; or an access token"
        " from the OpenID Provider (KVIT_OIDC_ISSUER)"
    ),
)


def services_of(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services), "the app was not built by api.app.create_app"
    return services


def running_of(request: Request) -> Running:
    return services_of(request).started()


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


async def caller(request: Request, _: BearerDep = None) -> Caller:
    # The token guard (api/guards.py) has usually named the caller already.
    return await authenticate_caller(request, services_of(request))


CallerDep = Annotated[Caller, Depends(caller)]


async def settings(request: Request) -> ApiSettings:
    return services_of(request).settings


async def token_secret(request: Request) -> str:
    return services_of(request).secret_key


async def acquirer(request: Request) -> Acquirer | None:
    """The card acquirer, or None when none is configured."""
    return services_of(request).acquirer


async def acquirer_secret(request: Request) -> str | None:
    """The shared secret of the acquirer's webhook signatures, if there is one."""
    return services_of(request).acquirer_secret


async def running(request: Request) -> Running:
    """What the lifespan opened, as one dependency: for a hot route that needs several of its
    parts (FastAPI resolves each dependency anew on every request, ~10 µs each)."""
    return running_of(request)


async def ledger(request: Request) -> Ledger:
    return running_of(request).ledger


async def read_models(request: Request) -> ReadModels:
    return running_of(request).read_models


async def link_attempts(request: Request) -> LinkAttempts:
    return running_of(request).link_attempts


async def audit_settings(request: Request) -> AuditSettings:
    return running_of(request).audit_settings


async def chain_if_kept(request: Request) -> AuditStore | None:
    """The audit store, or None when the log is in memory."""
    return running_of(request).audit_store


async def log_reads(request: Request) -> LogReads:
    """Where an auditor's heavy read of the log goes: `.reader()` in the route's body, only on
    the path that reads the log (it may wait for the replica)."""
    return running_of(request).log_reads


def require_chain(store: AuditStore | None) -> AuditStore:
    """The chain a route needs. Checked in the route's body, not as a dependency, so that a
    request that is not valid is still a 422 on a server without a chain."""
    if store is None:
        raise ChainUnavailableProblem("this server keeps its log in memory; there is no chain")
    return store


def card_acquirer(acquirer: Acquirer | None) -> Acquirer:
    """The acquirer a card operation needs. Checked in the route's body, as `require_chain`,
    so that a request that is not valid is still a 422 on a server without one."""
    if acquirer is None:
        raise CardPaymentsUnavailableProblem(
            "card payments and top-ups are off on this server (no acquirer is configured);"
            " paying from a wallet, or by the bill's QR code in a bank's app, still works"
        )
    return acquirer


SettingsDep = Annotated[ApiSettings, Depends(settings)]
TokenSecretDep = Annotated[str, Depends(token_secret)]
AcquirerDep = Annotated[Acquirer | None, Depends(acquirer)]
AcquirerSecretDep = Annotated[str | None, Depends(acquirer_secret)]
RunningDep = Annotated[Running, Depends(running)]
LedgerDep = Annotated[Ledger, Depends(ledger)]
ReadDep = Annotated[ReadModels, Depends(read_models)]
LinkAttemptsDep = Annotated[LinkAttempts, Depends(link_attempts)]
AuditSettingsDep = Annotated[AuditSettings, Depends(audit_settings)]
ChainIfKeptDep = Annotated[AuditStore | None, Depends(chain_if_kept)]
LogReadsDep = Annotated[LogReads, Depends(log_reads)]


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
    running = running_of(request)
    if min_position > running.read_models.position():
        head = await run_in_threadpool(log_head, running.ledger)
        if min_position > head:
            raise PositionNotInLogProblem(
                f"the log ends at position {head}", min_position=min_position, head=head
            )
    return min_position


MinPositionDep = Annotated[int, Depends(min_position)]


# Each role asks for its caller itself, not through the `caller` dependency: one resolution
# fewer on every request (FastAPI resolves a dependency's dependencies anew, ~10 µs each).
async def resident(request: Request, _: BearerDep = None) -> Caller:
    return require(await caller(request), Role.RESIDENT)


async def operator(request: Request, _: BearerDep = None) -> Caller:
    """The unscoped operator: administration (suppliers, refunds) and every bank and supplier."""
    return require(await caller(request), Role.OPERATOR)


async def reader(request: Request, _: BearerDep = None) -> Caller:
    """Operators and auditors read everything."""
    return require(await caller(request), Role.OPERATOR, Role.AUDITOR)


# Roles that scoped operators share with the unscoped one; the route then keeps a scoped
# caller to its own bank or supplier (api/operator_scopes.py).
async def notice_poster(request: Request, _: BearerDep = None) -> Caller:
    return require(await caller(request), Role.OPERATOR, Role.BANK)


async def notice_reader(request: Request, _: BearerDep = None) -> Caller:
    return require(await caller(request), Role.OPERATOR, Role.AUDITOR, Role.BANK, Role.SUPPLIER)


async def supplier_agent(request: Request, _: BearerDep = None) -> Caller:
    """Who opens a supplier's accounts, issues its bills and confirms its payers."""
    return require(await caller(request), Role.OPERATOR, Role.SUPPLIER)


async def supplier_reader(request: Request, _: BearerDep = None) -> Caller:
    return require(await caller(request), Role.OPERATOR, Role.AUDITOR, Role.SUPPLIER)


ResidentDep = Annotated[Caller, Depends(resident)]
OperatorDep = Annotated[Caller, Depends(operator)]
ReaderDep = Annotated[Caller, Depends(reader)]
NoticePosterDep = Annotated[Caller, Depends(notice_poster)]
NoticeReaderDep = Annotated[Caller, Depends(notice_reader)]
SupplierAgentDep = Annotated[Caller, Depends(supplier_agent)]
SupplierReaderDep = Annotated[Caller, Depends(supplier_reader)]


def read_your_writes(
    outcome: Outcome[Any],
    response: Response,
    read_models: ReadModels,
    names: Iterable[str] = models.READ_YOUR_WRITES,
) -> int:
    """Read-your-writes: return only once the read models a client reads next (`names`: by
    default the balances and the history) include this write. A replay waits for the whole
    log as it is now, since the original write may have just committed in a concurrent
    request. Returns the position waited for."""
    position = outcome.position
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"
        position = log_head(read_models.ledger)
    response.headers[POSITION_HEADER] = str(position)
    if position:
        read_models.wake()
        try:
            read_models.wait_for(position, names)
        except ReadModelTimeoutError:
            # The write is committed: report success, never a failure the client might act on.
            log.warning("read models lag behind position %s", outcome.position)
            response.headers[LAG_HEADER] = "lagging"
    return position
