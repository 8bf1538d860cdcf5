"""The standard OpenID Connect provider: discovery, the authorization code flow with PKCE, and
its tokens checked against its JWKS (api/oidc/tokens.py).

The discovery document is read once (and again after an hour, or after it failed); its
`issuer` must be the configured one exactly, or a look-alike could serve keys of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from api.oidc.base import Identity, SignInRefusedError, role_from
from api.oidc.tokens import (
    ProviderKeys,
    TokenRefusedError,
    verify_access_token,
    verify_id_token,
)
from api.settings import ApiSettings

HTTP_TIMEOUT_SECONDS = 10.0
DISCOVERY_SECONDS = 3600.0
MAX_RESPONSE_BYTES = 1024 * 1024
"""A discovery document, a JWKS or a token response larger than this is refused."""


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    jwks_uri: str
    end_session: str | None
    token_auth_methods: tuple[str, ...]


def fetch_json(client: httpx.Client, method: str, url: str, **request: Any) -> Mapping[str, Any]:
    """One bounded JSON exchange with the provider; SignInRefusedError on anything else."""
    try:
        with client.stream(method, url, **request) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise SignInRefusedError(f"{url} answered more than {MAX_RESPONSE_BYTES} bytes")
        if response.status_code != 200:
            raise SignInRefusedError(f"{url} answered {response.status_code}: {body[:200]!r}")
        found = httpx.Response(200, content=body).json()
    except (httpx.HTTPError, ValueError) as error:
        raise SignInRefusedError(f"{url}: {error}") from None
    if not isinstance(found, dict):
        raise SignInRefusedError(f"{url} answered no JSON object")
    return found


class OpenIdProvider:
    def __init__(self, settings: ApiSettings, client: httpx.Client | None = None) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id, "checked by check_oidc"
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.scopes = " ".join(dict.fromkeys(["openid", *settings.oidc_scopes.split()]))
        self.roles_claim = settings.oidc_roles_claim
        self.audience = settings.oidc_audience or self.client_id
        self.http = client or httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
        self._endpoints: Endpoints | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()
        self._keys: ProviderKeys | None = None

    def _json(self, url: str) -> Mapping[str, Any]:
        return fetch_json(self.http, "GET", url, headers={"Accept": "application/json"})

    def endpoints(self) -> Endpoints:
        with self._lock:
            if self._endpoints is None or time.monotonic() - self._read_at > DISCOVERY_SECONDS:
                self._endpoints = self._discover()
                self._read_at = time.monotonic()
                if self._keys is None or self._keys.jwks_uri != self._endpoints.jwks_uri:
                    self._keys = ProviderKeys(self._endpoints.jwks_uri, self._json)
            return self._endpoints

    def keys(self) -> ProviderKeys:
        self.endpoints()
        assert self._keys is not None
        return self._keys

    def _discover(self) -> Endpoints:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        found = self._json(url)
        if found.get("issuer") != self.issuer:
            raise SignInRefusedError(
                f"the discovery document names the issuer {found.get('issuer')!r},"
                f" not {self.issuer!r}"
            )
        try:
            methods = found.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
            return Endpoints(
                authorization=str(found["authorization_endpoint"]),
                token=str(found["token_endpoint"]),
                jwks_uri=str(found["jwks_uri"]),
                end_session=found.get("end_session_endpoint"),
                token_auth_methods=tuple(methods),
            )
        except KeyError as error:
            raise SignInRefusedError(f"the discovery document lacks {error}") from None

    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.endpoints().authorization}?{urlencode(query)}"

    def exchange(self, *, code: str, redirect_uri: str, verifier: str, nonce: str) -> Identity:
        endpoints = self.endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        auth: tuple[str, str] | None = None
        if self.client_secret is None:
            form["client_id"] = self.client_id
        elif "client_secret_basic" in endpoints.token_auth_methods:
            auth = (self.client_id, self.client_secret)
        else:
            form |= {"client_id": self.client_id, "client_secret": self.client_secret}
        answered = fetch_json(
            self.http,
            "POST",
            endpoints.token,
            data=form,
            auth=auth,
            headers={"Accept": "application/json"},
        )
        id_token = answered.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefusedError("the token response has no ID token")
        try:
            claims = verify_id_token(
                id_token, self.keys(), issuer=self.issuer, client_id=self.client_id, nonce=nonce
            )
        except TokenRefusedError as error:
            raise SignInRefusedError(f"ID token refused: {error}") from None
        return self._identity(claims)

    def bearer(self, token: str) -> Identity:
        try:
            claims = verify_access_token(
                token, self.keys(), issuer=self.issuer, audience=self.audience
            )
        except TokenRefusedError as error:
            raise SignInRefusedError(f"access token refused: {error}") from None
        return self._identity(claims)

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        return Identity(self.issuer, str(claims["sub"]), role_from(claims, self.roles_claim))

    def end_session_url(self, *, post_logout_redirect_uri: str) -> str | None:
        end_session = self.endpoints().end_session
        if not end_session:
            return None
        query = {
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "client_id": self.client_id,
        }
        return f"{end_session}?{urlencode(query)}"
