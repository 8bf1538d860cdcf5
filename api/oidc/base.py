"""The seam between Kvit and whoever vouches for a person: an `IdentityProvider`.

Kvit asks it for three things: where to send the browser to sign in, what a returning code
proves (exchanged on Kvit's server, never in the browser), and whom an access token sent as a
bearer names. The standard OpenID Connect provider is api/oidc/provider.py; an ЕСИА adapter
would be one more module implementing this protocol (docs/esia.md).

A person is identified by the pair (issuer, subject); their payer id is derived from it, so the
same person is the same payer whether they come through the cabinet or an app's bearer token,
and a subject at one provider can never be taken for the same subject at another.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID, uuid5

from api.auth import Role

PAYER_NAMESPACE = UUID("0b6f3c1e-5d0a-4f57-9d7b-6b7f1f0c9a21")
"""Fixed forever: payer ids of signed-in residents are derived from it."""

ROLES_FROM_CLAIM = (Role.OPERATOR, Role.AUDITOR)
"""The roles a provider's claim may grant, strongest first. Scoped bank and supplier operators
need a БИК or ИНН as well, so they keep `kvit token`."""


def payer_id_for(issuer: str, subject: str) -> str:
    """The stable payer id of a person at a provider: the same on every sign-in. The pair is
    encoded unambiguously (JSON), so no issuer and subject can be cut differently to collide."""
    return str(uuid5(PAYER_NAMESPACE, json.dumps([issuer, subject])))


def role_from(claims: Mapping[str, Any], roles_claim: str | None) -> Role:
    """The strongest Kvit role the `roles_claim` names (a dotted path into nested claims; a
    list or a space-separated string), else resident."""
    if not roles_claim:
        return Role.RESIDENT
    value: Any = claims
    for part in roles_claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    names = value.split() if isinstance(value, str) else value
    if not isinstance(names, list):
        return Role.RESIDENT
    for role in ROLES_FROM_CLAIM:
        if role.value in names:
            return role
    return Role.RESIDENT


@dataclass(frozen=True)
class Identity:
    """Who the provider vouched for, and what Kvit makes of them."""

    issuer: str
    subject: str
    role: Role

    @property
    def payer_id(self) -> str:
        return payer_id_for(self.issuer, self.subject)


class SignInRefusedError(Exception):
    """A sign-in that must not succeed; the message says why (logged, not shown)."""


class IdentityProvider(Protocol):
    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """Where the browser goes to sign in (authorization code flow, PKCE with S256)."""
        ...

    def exchange(self, *, code: str, redirect_uri: str, verifier: str, nonce: str) -> Identity:
        """Redeem the code on the server and check what comes back; raise
        SignInRefusedError if anything is off."""
        ...

    def bearer(self, token: str) -> Identity:
        """Whom an access token sent as a bearer names; raise SignInRefusedError if it is not
        one of this provider's, for Kvit, and current."""
        ...

    def end_session_url(self, *, post_logout_redirect_uri: str) -> str | None:
        """Where the browser goes to sign out at the provider too, if it offers that. It names
        Kvit by its client id, not by an `id_token_hint`: no token is ever put in a URL."""
        ...
