"""The provider's keys and what Kvit makes of its claims: a JWKS refetched for an unknown key
at most once per interval, the roles claim, and the payer id of (issuer, subject)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from api.auth import Role
from api.oidc.base import payer_id_for, role_from
from api.oidc.tokens import ProviderKeys, TokenRefusedError, verify_access_token, verify_id_token
from tests.crafted_provider import FIRST_KEY, CraftedProvider, rsa_key

ISSUER = "https://id.example.ru"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def serving(provider: CraftedProvider) -> tuple[ProviderKeys, Clock]:
    clock = Clock()

    def fetch(url: str) -> Mapping[str, Any]:
        assert url == ISSUER + "/jwks"
        return provider.jwks()

    return ProviderKeys(ISSUER + "/jwks", fetch, refetch_seconds=5, clock=clock), clock


def test_an_unknown_kid_is_refetched_once_per_interval() -> None:
    provider = CraftedProvider(issuer=ISSUER)
    keys, clock = serving(provider)
    good = provider.sign(provider.claims("n"))
    assert verify_id_token(good, keys, issuer=ISSUER, client_id="kvit-test", nonce="n")
    assert provider.jwks_fetches == 1
    provider.keys.insert(0, rsa_key("second"))
    rotated = provider.sign(provider.claims("n"))
    assert verify_id_token(rotated, keys, issuer=ISSUER, client_id="kvit-test", nonce="n")
    assert provider.jwks_fetches == 2
    made_up = provider.sign(provider.claims("n"), kid="made-up")
    for _ in range(5):
        with pytest.raises(TokenRefusedError, match="no key 'made-up'"):
            verify_id_token(made_up, keys, issuer=ISSUER, client_id="kvit-test", nonce="n")
    assert provider.jwks_fetches == 2  # within 5 s of the last refetch: none
    clock.now += 5
    with pytest.raises(TokenRefusedError):
        verify_id_token(made_up, keys, issuer=ISSUER, client_id="kvit-test", nonce="n")
    assert provider.jwks_fetches == 3


def test_an_id_token_with_azp_naming_another_client_is_refused() -> None:
    provider = CraftedProvider(issuer=ISSUER)
    keys, _ = serving(provider)
    token = provider.sign(provider.claims("n", azp="someone-else"))
    with pytest.raises(TokenRefusedError, match="azp"):
        verify_id_token(token, keys, issuer=ISSUER, client_id="kvit-test", nonce="n")
    both = provider.sign(provider.claims("n", aud=["kvit-test", "other"], azp="kvit-test"))
    assert verify_id_token(both, keys, issuer=ISSUER, client_id="kvit-test", nonce="n")


def test_an_access_token_is_checked_for_its_audience_and_is_no_id_token() -> None:
    provider = CraftedProvider(issuer=ISSUER, keys=[FIRST_KEY])
    keys, _ = serving(provider)
    claims = provider.claims("n", aud="https://kvit.example.ru/v1")
    with pytest.raises(TokenRefusedError, match="ID token"):  # it carries a nonce
        verify_access_token(
            provider.sign(claims), keys, issuer=ISSUER, audience="https://kvit.example.ru/v1"
        )
    del claims["nonce"]
    token = provider.sign(claims)
    assert verify_access_token(token, keys, issuer=ISSUER, audience="https://kvit.example.ru/v1")
    with pytest.raises(TokenRefusedError, match="aud"):
        verify_access_token(token, keys, issuer=ISSUER, audience="kvit-test")


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"roles": ["operator"]}, Role.OPERATOR),
        ({"roles": "auditor other"}, Role.AUDITOR),
        ({"roles": ["auditor", "operator"]}, Role.OPERATOR),  # the strongest
        ({"realm_access": {"roles": ["auditor"]}}, Role.AUDITOR),
        ({"roles": ["bank"]}, Role.RESIDENT),  # scoped operators keep `kvit token`
        ({"roles": 7}, Role.RESIDENT),
        ({}, Role.RESIDENT),
    ],
)
def test_roles_come_from_the_configured_claim(claims: dict[str, Any], role: Role) -> None:
    path = "realm_access.roles" if "realm_access" in claims else "roles"
    assert role_from(claims, path) == role
    assert role_from(claims, None) == Role.RESIDENT


def test_a_payer_is_one_subject_at_one_issuer() -> None:
    assert payer_id_for(ISSUER, "42") == payer_id_for(ISSUER, "42")
    assert payer_id_for(ISSUER, "42") != payer_id_for("https://other.example", "42")
    assert payer_id_for(ISSUER, "4\n2") != payer_id_for(ISSUER + "\n4", "2")
