"""RFC 9457 problem details: the problems the HTTP edge raises, their body, and the problem
responses a route declares (api/problem_handlers.py answers every error with one).

Every error a client can cause becomes `application/problem+json` with `type`, `title`,
`status`, `detail`, `instance`, a stable machine `code` and the error's data (ids, amounts) as
extension members. Anything else is a 500 that leaks nothing.
"""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://kvit.dev/problems/"


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


class CsrfProblem(ApiProblem):
    """A cabinet call on the session cookie that changes something came without the session's
    CSRF token, or from another origin (api/callers.py)."""

    status, code, title = 403, "csrf_failed", "Cross-site request refused"


class SignInUnavailableProblem(ApiProblem):
    """No OpenID Provider is configured (KVIT_OIDC_ISSUER): as card payments without an
    acquirer, the server's set-up, not the client's mistake."""

    status, code, title = 501, "sign_in_unavailable", "Sign-in is not configured"


class SignInBusyProblem(ApiProblem):
    status, code, title = 503, "sign_in_busy", "Too many sign-ins in flight"


class NotFoundProblem(ApiProblem):
    status, code, title = 404, "not_found", "Not found"


class MissingIdempotencyKeyProblem(ApiProblem):
    status, code, title = 400, "idempotency_key_missing", "Idempotency-Key header required"


class PayloadTooLargeProblem(ApiProblem):
    status, code, title = 413, "payload_too_large", "Request body too large"


class RequestTimeoutProblem(ApiProblem):
    status, code, title = 408, "request_timeout", "The request did not arrive in time"


class BadSignatureProblem(ApiProblem):
    status, code, title = 401, "unauthorized", "Bad or stale signature"


class PositionNotInLogProblem(ApiProblem):
    status, code, title = 422, "position_not_in_log", "The log has not reached this position"


class NotInTreeProblem(ApiProblem):
    status, code, title = 422, "not_in_tree", "The transparency log does not hold this"


class LinkNotProvenProblem(ApiProblem):
    status, code, title = 403, "link_not_proven", "Prove possession of the account first"


class LinkAttemptsExceededProblem(ApiProblem):
    status, code, title = 429, "link_attempts_exceeded", "Too many link attempts"


class CardPaymentsUnavailableProblem(ApiProblem):
    """No acquirer is configured. 501: the request is right and would succeed on a server with
    one; nothing the client changes in it helps (not 4xx), and it is the server's set-up, not
    an outage that passes (not 503 with Retry-After). The cabinet reads `card_payments` from
    /cabinet/config.json and offers no card."""

    status, code, title = 501, "card_payments_unavailable", "Card payments are not available"


class ChainUnavailableProblem(ApiProblem):
    status, code, title = 503, "audit_unavailable", "The audit chain is not kept here"


class ReadTimeoutProblem(ApiProblem):
    status, code, title = 503, "read_model_lagging", "Read model did not catch up in time"


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


# Members RFC 9457 (and this API) define; an error's data must not overwrite them. A ledger error's
# `status` is the state of the payment or top-up it refused to change, so it is shown as `state`.
RESERVED = {"type", "title", "status", "detail", "instance", "code"}


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
        for status in (*statuses, 401, 408, 413, 422)
    }
