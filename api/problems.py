"""RFC 9457 problem details: one table from error to status, and the handlers.

Every error a client can cause becomes `application/problem+json` with `type`, `title`,
`status`, `detail`, `instance`, a stable machine `code` and the error's data (ids, amounts) as
extension members. Anything else is a 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import psycopg_pool
from eventsourcing import persistence as es_persistence
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger import errors
from projections import errors as read_errors

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://kvit.dev/problems/"
log = logging.getLogger("kvit.api")


class ApiProblem(Exception):
    """An error born at the HTTP edge (auth, headers, routing), not in the ledger."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str, **data: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.data = data


class UnauthorizedProblem(ApiProblem):
    status, code, title = 401, "unauthorized", "Missing or invalid credentials"


class ForbiddenProblem(ApiProblem):
    status, code, title = 403, "forbidden", "Not allowed for this role"


class NotFoundProblem(ApiProblem):
    status, code, title = 404, "not_found", "Not found"


class MissingIdempotencyKeyProblem(ApiProblem):
    status, code, title = 400, "idempotency_key_missing", "Idempotency-Key header required"


class PayloadTooLargeProblem(ApiProblem):
    status, code, title = 413, "payload_too_large", "Request body too large"


class BadSignatureProblem(ApiProblem):
    status, code, title = 401, "unauthorized", "Bad or stale signature"


class PositionNotInLogProblem(ApiProblem):
    status, code, title = 422, "position_not_in_log", "The log has not reached this position"


class LinkNotProvenProblem(ApiProblem):
    status, code, title = 403, "link_not_proven", "Prove possession of the account first"


class LinkAttemptsExceededProblem(ApiProblem):
    status, code, title = 429, "link_attempts_exceeded", "Too many failed link attempts"


class ChainUnavailableProblem(ApiProblem):
    status, code, title = 503, "audit_unavailable", "The audit chain is not kept here"


class ReadTimeoutProblem(ApiProblem):
    status, code, title = 503, "read_model_lagging", "Read model did not catch up in time"


# Ledger error class -> (HTTP status, title). Looked up along the class's MRO, so a subclass
# without its own row takes its parent's.
LEDGER_STATUS: dict[type[errors.LedgerError], tuple[int, str]] = {
    errors.InvalidIdentifierError: (422, "Invalid identifier"),
    errors.InvalidAmountError: (422, "Invalid amount"),
    errors.InvalidPaymentMethodError: (422, "Invalid payment method"),
    errors.InvalidBillError: (422, "Invalid bill"),
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
    errors.RequisitesMismatchError: (422, "Requisites are not the supplier's"),
    errors.NothingDueError: (422, "Nothing is due; give an amount"),
    errors.WalletOwnershipError: (422, "Wallet required"),
    errors.OperationMismatchError: (409, "Operation does not match"),
    errors.IdempotencyKeyReusedError: (422, "Idempotency key reused"),
    errors.ConcurrentUpdateError: (409, "Concurrent update"),
}


# Read-side error class -> (HTTP status, code, title). A page cursor or filter the read side
# refuses is the client's mistake; a read model that does not catch up in time is a 503.
READ_STATUS: dict[type[read_errors.ReadModelError], tuple[int, str, str]] = {
    read_errors.InvalidCursorError: (422, "invalid_cursor", "Invalid page cursor"),
    read_errors.InvalidQueryError: (422, "invalid_query", "Invalid query"),
    read_errors.ReadModelTimeoutError: (503, ReadTimeoutProblem.code, ReadTimeoutProblem.title),
}


def ledger_status(error: errors.LedgerError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in LEDGER_STATUS:
            return LEDGER_STATUS[cls]
    return 400, "Bad request"


def problem_body(
    path: str, *, status: int, code: str, title: str, detail: str, **data: Any
) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": path,
        "code": code,
        **{k: v for k, v in data.items() if k not in RESERVED},
    }


def problem(
    request: Request, *, status: int, code: str, title: str, detail: str, **data: Any
) -> JSONResponse:
    body = problem_body(
        request.url.path, status=status, code=code, title=title, detail=detail, **data
    )
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.LedgerError)
    async def on_ledger_error(request: Request, error: errors.LedgerError) -> JSONResponse:
        status, title = ledger_status(error)
        return problem(
            request,
            status=status,
            code=error.code,
            title=title,
            detail=error.message,
            **jsonable(error.data),
        )

    @app.exception_handler(read_errors.ReadModelError)
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

    @app.exception_handler(ApiProblem)
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

    @app.exception_handler(RequestValidationError)
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

    @app.exception_handler(StarletteHTTPException)
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

    for transient in TRANSIENT:
        app.add_exception_handler(transient, on_unavailable)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            request,
            status=500,
            code="internal_error",
            title="Internal error",
            detail="something went wrong on our side; it has been logged",
        )


# Faults of a database that is restarting or unreachable: 503 with Retry-After, never a 500.
# (eventsourcing wraps psycopg's errors in its own; the read side and the pool raise psycopg's.)
TRANSIENT: tuple[type[Exception], ...] = (
    es_persistence.OperationalError,
    es_persistence.InterfaceError,
    es_persistence.ConnectionPoolClosedError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg_pool.PoolTimeout,
    psycopg_pool.PoolClosed,
)
RETRY_AFTER_SECONDS = 1


# Members RFC 9457 (and this API) define; an error's data must not overwrite them. A ledger error's
# `status` is the state of the payment or top-up it refused to change, so it is shown as `state`.
RESERVED = {"type", "title", "status", "detail", "instance", "code"}
RENAMED = {"status": "state"}


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """An error's data as extension members: JSON values, under names that clash with none."""
    return {
        (RENAMED.get(k, f"data_{k}") if k in RESERVED else k): (
            v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
        )
        for k, v in data.items()
    }


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Declare a route's problem responses, so the OpenAPI document is honest."""
    schema = {
        "type": "object",
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "code": {"type": "string"},
        },
        "additionalProperties": True,
    }
    return {
        status: {"description": "Problem", "content": {PROBLEM_JSON: {"schema": schema}}}
        for status in (*statuses, 401, 413, 422)
    }
