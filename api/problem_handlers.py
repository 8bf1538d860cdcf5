"""How every error a request can meet becomes a problem (api/problems.py): one table from the
ledger's and the read side's errors to a status, and the exception handlers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.problems import PROBLEM_JSON, RESERVED, ApiProblem, ReadTimeoutProblem, problem_body
from ledger import errors
from projections import errors as read_errors
from storage.faults import (
    CONNECTION_FAULTS,
    INTERNAL_FAULTS,
    UnconfirmedWriteError,
    refused_by_a_read_only_server,
)

log = logging.getLogger("kvit.api")


# Ledger error class -> (HTTP status, title). Looked up along the class's MRO, so a subclass
# without its own row takes its parent's.
LEDGER_STATUS: dict[type[errors.LedgerError], tuple[int, str]] = {
    errors.InvalidIdentifierError: (422, "Invalid identifier"),
    errors.InvalidTextError: (422, "Invalid text"),
    errors.InvalidAmountError: (422, "Invalid amount"),
    errors.InvalidPaymentMethodError: (422, "Invalid payment method"),
    errors.InvalidBillError: (422, "Invalid bill"),
    errors.InvalidCardError: (422, "Invalid card"),
    errors.LinkProofMismatchError: (422, "The proof matches no bill of the account"),
    errors.NotFoundError: (404, "Not found"),
    errors.AlreadyExistsError: (409, "Already exists"),
    errors.InsufficientFundsError: (409, "Insufficient funds"),
    errors.PaymentStateConflictError: (409, "Payment state does not allow this"),
    errors.TopUpStateConflictError: (409, "Top-up state does not allow this"),
    errors.BillStateConflictError: (409, "Bill state does not allow this"),
    errors.RefundExceedsPaymentError: (409, "Refund exceeds what was paid"),
    errors.NoticeStateConflictError: (409, "Notice state does not allow this"),
    errors.NoticeConflictError: (409, "Another notice holds this OrderID"),
    errors.BankMismatchError: (422, "The OrderID names another bank"),
    errors.EmptyRegisterError: (422, "The register has no lines"),
    errors.RequisitesMismatchError: (422, "Requisites are not the supplier's"),
    errors.NothingDueError: (422, "Nothing is due; give an amount"),
    errors.WalletOwnershipError: (422, "Wallet required"),
    errors.OperationMismatchError: (409, "Operation does not match"),
    errors.IdempotencyKeyReusedError: (422, "Idempotency key reused"),
    errors.ConcurrentUpdateError: (409, "Concurrent update"),
    errors.WriterUnavailableError: (503, "The writer is restarting"),
}


# Read-side error class -> (HTTP status, code, title). A page cursor or filter the read side
# refuses is the client's mistake; a read model that does not catch up in time is a 503.
READ_STATUS: dict[type[read_errors.ReadModelError], tuple[int, str, str]] = {
    read_errors.InvalidCursorError: (422, "invalid_cursor", "Invalid page cursor"),
    read_errors.InvalidQueryError: (422, "invalid_query", "Invalid query"),
    read_errors.ReadModelTimeoutError: (503, ReadTimeoutProblem.code, ReadTimeoutProblem.title),
    read_errors.ReadModelStuckError: (503, "read_model_stuck", "A read model is stuck"),
}


def ledger_status(error: errors.LedgerError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in LEDGER_STATUS:
            return LEDGER_STATUS[cls]
    return 400, "Bad request"


def problem(
    request: Request, *, status: int, code: str, title: str, detail: str, **data: Any
) -> JSONResponse:
    body = problem_body(
        request.url.path, status=status, code=code, title=title, detail=detail, **data
    )
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


RENAMED = {"status": "state"}


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """An error's data as extension members: JSON values, under names that clash with none."""
    return {
        (RENAMED.get(k, f"data_{k}") if k in RESERVED else k): (
            v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
        )
        for k, v in data.items()
    }


# Faults of a database that is restarting, unreachable or in recovery: 503 with Retry-After,
# never a 500 (storage/faults.py). Any other InternalError is a 500.
TRANSIENT = CONNECTION_FAULTS
INTERNAL = INTERNAL_FAULTS
RETRY_AFTER_SECONDS = 1


async def on_ledger_error(request: Request, error: errors.LedgerError) -> JSONResponse:
    status, title = ledger_status(error)
    response = problem(
        request,
        status=status,
        code=error.code,
        title=title,
        detail=error.message,
        **jsonable(error.data),
    )
    if "retry_after" in error.data:
        response.headers["Retry-After"] = str(error.data["retry_after"])
    return response


async def on_read_error(request: Request, error: read_errors.ReadModelError) -> JSONResponse:
    for cls in type(error).__mro__:
        if cls in READ_STATUS:
            status, code, title = READ_STATUS[cls]
            break
    else:
        return await on_unexpected(request, error)
    return problem(
        request,
        status=status,
        code=code,
        title=title,
        detail=error.message,
        **jsonable(error.data),
    )


async def on_api_problem(request: Request, error: ApiProblem) -> JSONResponse:
    response = problem(
        request,
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        **jsonable(error.data),
    )
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if "retry_after" in error.data:
        response.headers["Retry-After"] = str(error.data["retry_after"])
    return response


async def on_validation(request: Request, error: RequestValidationError) -> JSONResponse:
    return problem(
        request,
        status=422,
        code="validation_error",
        title="Request is not valid",
        detail="the request does not match the schema",
        errors=[
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in error.errors()
        ],
    )


async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
    if error.status_code == 400:
        # The framework's "error parsing the body" (e.g. a JSON body that is not UTF-8):
        # a malformed body, which the contract answers with 422 like any other.
        return problem(
            request,
            status=422,
            code="validation_error",
            title="Request is not valid",
            detail="the request body could not be parsed",
            errors=[{"loc": ["body"], "msg": str(error.detail), "type": "body_unparsable"}],
        )
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    response = problem(
        request,
        status=error.status_code,
        code=code,
        title=str(error.detail),
        detail=str(error.detail),
    )
    response.headers.update(error.headers or {})  # e.g. a 405's `Allow`
    return response


async def on_unavailable(request: Request, error: Exception) -> JSONResponse:
    # A connection cut or a database restart: nothing was decided, so the client retries
    # (with its Idempotency-Key, which makes a retry of a committed write a replay).
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, error)
    response = problem(
        request,
        status=503,
        code="database_unavailable",
        title="The database is not answering",
        detail="a transient database fault; retry the request (with the same"
        " Idempotency-Key for a write)",
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def on_unconfirmed(request: Request, error: Exception) -> JSONResponse:
    # KVIT_REQUIRE_SYNC_STANDBY: no synchronous standby has the write, so it is not
    # acknowledged; the retry (same key) is answered once a standby is attached again.
    log.warning("write not confirmed by a standby on %s: %s", request.url.path, error)
    response = problem(
        request,
        status=503,
        code="standby_unavailable",
        title="No standby confirmed the write",
        detail="no synchronous standby is attached; retry the request with the same"
        " Idempotency-Key",
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def on_internal(request: Request, error: Exception) -> JSONResponse:
    if refused_by_a_read_only_server(error):
        return await on_unavailable(request, error)
    return await on_unexpected(request, error)


async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        request,
        status=500,
        code="internal_error",
        title="Internal error",
        detail="something went wrong on our side; it has been logged",
    )


def install(app: FastAPI) -> None:
    """Every error a request can meet answers as a problem (see the module's docstring)."""
    app.exception_handler(errors.LedgerError)(on_ledger_error)
    app.exception_handler(read_errors.ReadModelError)(on_read_error)
    app.exception_handler(ApiProblem)(on_api_problem)
    app.exception_handler(RequestValidationError)(on_validation)
    app.exception_handler(StarletteHTTPException)(on_http)
    app.exception_handler(UnconfirmedWriteError)(on_unconfirmed)
    for transient in TRANSIENT:
        app.exception_handler(transient)(on_unavailable)
    for internal in INTERNAL:
        app.exception_handler(internal)(on_internal)
    app.exception_handler(Exception)(on_unexpected)
