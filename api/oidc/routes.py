"""The cabinet's sign-in, backend-for-frontend: `/auth/login` sends the browser to the
provider, `/auth/callback` redeems the code on the server and sets the session cookie,
`/auth/session` tells the page who is signed in (and its CSRF token), `/auth/logout` ends the
session here and sends the browser to end it at the provider.

No token ever reaches the browser or a URL. The callback must carry the `state` this browser
was given (in its sign-in cookie) and still waiting in the store: another browser's callback
(login CSRF), a replayed one, and a stale one all fail, and what failed is logged, not shown.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from api.bootstrap import Services
from api.callers import from_session
from api.deps import services_of
from api.oidc.base import IdentityProvider, SignInRefusedError
from api.oidc.sessions import TooManySignInsError
from api.problems import SignInBusyProblem, SignInUnavailableProblem, UnauthorizedProblem

log = logging.getLogger("kvit.sign_in")
router = APIRouter(prefix="/auth", include_in_schema=False)
SIGNED_IN_PAGE = "/#/accounts"
FAILED_PAGE = "/#/sign-in/failed"
NO_STORE = {"Cache-Control": "no-store"}


class SessionOut(BaseModel):
    signed_in: bool
    payer_id: str | None = None
    role: str | None = None
    csrf_token: str | None = None


class LoggedOut(BaseModel):
    redirect: str
    """Where the page goes next: the provider's end-session page, or the cabinet."""


def provider_of(services: Services) -> IdentityProvider:
    if services.identity is None:
        raise SignInUnavailableProblem(
            "sign-in with an identity provider is not configured here (KVIT_OIDC_ISSUER)"
        )
    return services.identity


def callback_url(services: Services) -> str:
    return services.settings.base_url + "/auth/callback"


def challenge_of(verifier: str) -> str:
    """PKCE's S256 (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@router.get("/login")
def login(request: Request) -> Response:
    services = services_of(request)
    provider = provider_of(services)
    try:
        pending = services.started().sessions.begin_login()
    except TooManySignInsError as error:
        log.warning("sign-in refused: %s", error)
        raise SignInBusyProblem("too many sign-ins are in flight; try again in a minute") from None
    try:
        url = provider.authorization_url(
            redirect_uri=callback_url(services),
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=challenge_of(pending.verifier),
        )
    except SignInRefusedError as error:
        log.warning("sign-in could not start: %s", error)
        return RedirectResponse(FAILED_PAGE, status_code=303)
    response = RedirectResponse(url, status_code=303, headers=NO_STORE)
    services.cookies.set_login(response, pending.state)
    return response


@router.get("/callback")
def callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    iss: str | None = None,
) -> Response:
    services = services_of(request)
    provider = provider_of(services)
    cookies, sessions = services.cookies, services.started().sessions
    expected = request.cookies.get(cookies.login, "")

    def failed(why: str, *, spent: bool = True) -> Response:
        log.warning("sign-in refused: %s", why)
        response = RedirectResponse(FAILED_PAGE, status_code=303, headers=NO_STORE)
        if spent:
            cookies.clear(response, cookies.login)
        return response

    if not state or not expected or not secrets.compare_digest(state, expected):
        # Someone else's callback (a link in a mail, say): this browser's own sign-in, if one
        # is in flight, goes on undisturbed.
        return failed("the state is not the one this browser was given", spent=False)
    pending = sessions.take_login(state)
    if pending is None:
        return failed("the state is unknown, used already or too old")
    if error or not code:
        return failed(f"the provider answered {error or 'no code'}")
    if iss is not None and iss != services.settings.oidc_issuer:  # RFC 9207: mix-up
        return failed(f"the answer came from {iss!r}")
    try:
        identity = provider.exchange(
            code=code,
            redirect_uri=callback_url(services),
            verifier=pending.verifier,
            nonce=pending.nonce,
        )
    except SignInRefusedError as refused:
        return failed(str(refused))
    previous = request.cookies.get(cookies.session)
    if previous:
        sessions.close(previous)
    session_id, _ = sessions.open(identity)
    log.info("signed in: payer %s (%s)", identity.payer_id, identity.role.value)
    response = RedirectResponse(SIGNED_IN_PAGE, status_code=303, headers=NO_STORE)
    cookies.set_session(response, session_id)
    cookies.clear(response, cookies.login)
    return response


@router.get("/session", response_model=SessionOut)
def session(request: Request, response: Response) -> SessionOut:
    services = services_of(request)
    response.headers.update(NO_STORE)
    session_id = request.cookies.get(services.cookies.session)
    found = services.started().sessions.find(session_id) if session_id else None
    if found is None:
        return SessionOut(signed_in=False)
    return SessionOut(
        signed_in=True, payer_id=found.payer_id, role=found.role.value, csrf_token=found.csrf
    )


@router.post("/logout", response_model=LoggedOut)
def logout(request: Request, response: Response) -> LoggedOut:
    """Ends the session (its CSRF token required, as on every write), then names the
    provider's end-session page, where the resident ends their session there too."""
    services = services_of(request)
    provider = provider_of(services)
    cookies = services.cookies
    session_id = request.cookies.get(cookies.session)
    if session_id:
        with contextlib.suppress(UnauthorizedProblem):  # ended already: nothing to protect
            from_session(request, services, session_id)  # checks the CSRF token and Origin
        services.started().sessions.close(session_id)
    cookies.clear(response, cookies.session)
    response.headers.update(NO_STORE)
    back = services.settings.base_url + "/"
    return LoggedOut(redirect=provider.end_session_url(post_logout_redirect_uri=back) or "/")
