"""Who is calling: a token Kvit signed (`kvit token`, the demo sign-in), an access token from
the OpenID Provider sent as a bearer (an app), or the cabinet's session cookie.

A bearer wins over a cookie. A call on the cookie that changes something (any method but GET,
HEAD, OPTIONS) must also carry the session's CSRF token in `X-CSRF-Token`, and an `Origin`, if
the browser sent one, must be Kvit's own. SameSite=Lax already keeps the cookie off other
sites' POSTs; the token also stops a sibling subdomain (same site, so Lax lets its requests
carry the cookie) and a browser that ignores SameSite: another origin can neither read the
token nor send a custom header without a CORS preflight, which Kvit never grants.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import jwt
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.auth import ALGORITHM, CALLER_SCOPE_KEY, Caller, Role, authenticate
from api.bootstrap import Services
from api.oidc.base import SignInRefusedError
from api.problems import CsrfProblem, UnauthorizedProblem

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


def signed_by_kvit(token: str) -> bool:
    """Whether a bearer claims Kvit's own signature (HS256); anything else is the provider's."""
    try:
        return bool(jwt.get_unverified_header(token).get("alg") == ALGORITHM)
    except jwt.InvalidTokenError:
        return True  # malformed: Kvit's check refuses it with the usual answer


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def authenticate_caller(connection: HTTPConnection, services: Services) -> Caller:
    known = connection.scope.get(CALLER_SCOPE_KEY)
    if isinstance(known, Caller):
        return known
    header = connection.headers.get("authorization")
    session_id = connection.cookies.get(services.cookies.session)
    if header is None and session_id and services.running is not None:
        caller = await run_in_threadpool(from_session, connection, services, session_id)
    else:
        scheme, _, token = (header or "").partition(" ")
        identity = services.identity
        if identity is not None and scheme.lower() == "bearer" and not signed_by_kvit(token):
            try:
                found = await run_in_threadpool(identity.bearer, token)
            except SignInRefusedError:
                raise UnauthorizedProblem("the token is invalid or expired") from None
            caller = Caller(
                role=found.role, payer_id=found.payer_id if found.role == Role.RESIDENT else None
            )
        else:
            caller = authenticate(connection, services.secret_key)
    connection.scope[CALLER_SCOPE_KEY] = caller
    return caller


def from_session(connection: HTTPConnection, services: Services, session_id: str) -> Caller:
    session = services.started().sessions.find(session_id)
    if session is None:
        raise UnauthorizedProblem("the session has ended: sign in again")
    if connection.scope.get("method", "GET") not in SAFE_METHODS:
        sent = connection.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), session.csrf.encode()):
            raise CsrfProblem(f"send the session's CSRF token in {CSRF_HEADER}")
        origin = connection.headers.get("origin")
        if origin is not None and origin != origin_of(services.settings.base_url):
            raise CsrfProblem("this request came from another origin")
    payer_id = session.payer_id if session.role == Role.RESIDENT else None
    return Caller(role=session.role, payer_id=payer_id)
