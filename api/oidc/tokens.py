"""The provider's signing keys (its JWKS), and what its ID and access tokens must be to be
believed.

Keys are fetched once and again only when a token names a key Kvit does not hold (the provider
rotated its keys), and then at most once per `refetch_seconds`: tokens with made-up `kid`s
cannot make Kvit hammer the provider. Only asymmetric algorithms are accepted, so neither `none`
nor an HMAC "signed" with the public key passes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key as JsonWebKey
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
REFETCH_SECONDS = 5.0
LEEWAY_SECONDS = 60
"""Clock skew allowed between Kvit and the provider on `exp`, `iat` and `nbf`."""


class TokenRefusedError(Exception):
    """A token that is not to be believed; the message says which check it failed."""


FetchJson = Callable[[str], Mapping[str, Any]]


class ProviderKeys:
    def __init__(
        self,
        jwks_uri: str,
        fetch: FetchJson,
        *,
        refetch_seconds: float = REFETCH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jwks_uri, self.fetch = jwks_uri, fetch
        self.refetch_seconds, self.clock = refetch_seconds, clock
        self._keys: KeySet | None = None
        self._refetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def _load(self) -> KeySet:
        self.fetches += 1
        try:
            return KeySet.import_key_set(dict(self.fetch(self.jwks_uri)))  # type: ignore[arg-type]
        except (JoseError, KeyError, TypeError, ValueError) as error:
            raise TokenRefusedError(f"the provider's JWKS is unusable: {error}") from None

    def key_for(self, kid: str | None) -> JsonWebKey:
        """The key named `kid`, refetching the set once (bounded) if it is not known."""
        with self._lock:
            if self._keys is None:
                self._keys = self._load()
            found = self._find(kid)
            if found is not None:
                return found
            now = self.clock()
            if self._refetched_at is None or now - self._refetched_at >= self.refetch_seconds:
                self._refetched_at = now
                self._keys = self._load()
                found = self._find(kid)
                if found is not None:
                    return found
        raise TokenRefusedError(f"no key {kid!r} in the provider's JWKS")

    def _find(self, kid: str | None) -> JsonWebKey | None:
        assert self._keys is not None
        try:
            return self._keys.get_by_kid(kid)
        except JoseError:
            return None


def verified_claims(token: str, keys: ProviderKeys) -> dict[str, Any]:
    """The claims of a token signed by one of the provider's keys (signature only: the caller
    checks the claims)."""
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, UnicodeError):
        raise TokenRefusedError("not a signed JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise TokenRefusedError(f"algorithm {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    key = keys.key_for(kid if isinstance(kid, str) else None)
    try:
        found = jws.deserialize_compact(token, key, algorithms=list(ALGORITHMS))
    except JoseError:
        raise TokenRefusedError("bad signature") from None
    try:
        claims = json.loads(found.payload or b"")
    except ValueError:
        raise TokenRefusedError("the payload is not JSON") from None
    if not isinstance(claims, dict):
        raise TokenRefusedError("the payload is not a JSON object")
    return claims


def checked(claims: dict[str, Any], registry: JWTClaimsRegistry) -> dict[str, Any]:
    try:
        registry.validate(claims)
    except JoseError as error:
        raise TokenRefusedError(f"claim check failed: {error}") from None
    return claims


def verify_id_token(
    token: str, keys: ProviderKeys, *, issuer: str, client_id: str, nonce: str
) -> dict[str, Any]:
    """An ID token's claims, checked as OpenID Connect Core 3.1.3.7 says: signed by the
    provider, from `issuer`, for `client_id` (and, among several audiences, authorised for it),
    not expired, and carrying the `nonce` this sign-in sent."""
    claims = verified_claims(token, keys)
    registry = JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    checked(claims, registry)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        raise TokenRefusedError("claim check failed: azp does not name this client")
    return claims


def verify_access_token(
    token: str, keys: ProviderKeys, *, issuer: str, audience: str
) -> dict[str, Any]:
    """A JWT access token's claims (RFC 9068): signed by the provider, from `issuer`, for
    `audience`, not expired, naming its subject. An ID token is refused (it has a `nonce`: Kvit
    always sends one), so one issued to Kvit cannot stand in for an access token."""
    claims = verified_claims(token, keys)
    registry = JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
    )
    checked(claims, registry)
    if "nonce" in claims:
        raise TokenRefusedError("an ID token is not an access token")
    return claims
