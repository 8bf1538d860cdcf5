"""Sign-ins that must fail, with ID tokens the test crafts (tests/crafted_provider.py serves
their keys over HTTP): another issuer, another audience, expired, a replayed nonce, a stranger's
key, no signature, an HMAC. And the cabinet's cookie session: host-only, Secure, HttpOnly,
SameSite=Lax, its writes guarded by a CSRF token and the origin, its sign-out real.

Kvit runs as on a real deployment (https public URL) in a TestClient; the provider's answers are
crafted, everything else is the real code path (discovery, PKCE, code exchange, JWKS)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey

from api.oidc.base import payer_id_for
from ledger.application import Ledger
from tests.api.helpers import build_app, problem
from tests.crafted_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    CraftedProvider,
    crafted_provider,
    rsa_key,
    s256,
)

BASE = "https://kvit.test"
SESSION = "__Host-kvit-session"
FAILED = "/#/sign-in/failed"


@pytest.fixture
def provider() -> Iterator[CraftedProvider]:
    with crafted_provider() as started:
        yield started


@pytest.fixture
def client(
    tmp_path: Path, memory_ledger: Ledger, provider: CraftedProvider
) -> Iterator[TestClient]:
    app = build_app(
        tmp_path,
        memory_ledger,
        public_url=BASE,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_roles_claim="roles",
    )
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client


def start(client: TestClient) -> dict[str, str]:
    """/auth/login: where it sends the browser, as query parameters."""
    answer = client.get("/auth/login", follow_redirects=False)
    assert answer.status_code == 303
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def finish(client: TestClient, state: str) -> httpx.Response:
    answer: httpx.Response = client.get(
        "/auth/callback", params={"code": "the-code", "state": state}, follow_redirects=False
    )
    return answer


def sign_in(client: TestClient, provider: CraftedProvider, **changes: Any) -> httpx.Response:
    asked = start(client)
    provider.id_token = provider.sign(provider.claims(asked["nonce"], **changes))
    return finish(client, asked["state"])


def signed_in(client: TestClient) -> bool:
    return bool(client.get("/auth/session").json()["signed_in"])


def refused(answer: httpx.Response, client: TestClient) -> bool:
    return (
        answer.headers["location"] == FAILED
        and SESSION not in answer.headers.get("set-cookie", "")
        and not signed_in(client)
    )


def test_a_good_id_token_signs_in_with_pkce_and_a_host_only_secure_cookie(
    client: TestClient, provider: CraftedProvider
) -> None:
    asked = start(client)
    assert asked["code_challenge_method"] == "S256" and asked["scope"] == "openid"
    provider.id_token = provider.sign(provider.claims(asked["nonce"]))
    answer = finish(client, asked["state"])
    assert answer.headers["location"] == "/#/accounts"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION))
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
        assert flag in cookie
    assert "Domain" not in cookie
    sent = provider.token_requests[-1]
    assert s256(sent["code_verifier"]) == asked["code_challenge"]  # PKCE
    assert sent["redirect_uri"] == BASE + "/auth/callback"
    basic = base64.b64decode(sent["authorization"].removeprefix("Basic ")).decode()
    assert basic == f"{CLIENT_ID}:{CLIENT_SECRET}"
    me = client.get("/auth/session").json()
    assert me["payer_id"] == payer_id_for(provider.issuer, "resident-1")
    assert me["role"] == "resident"


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://evil.example"},
        {"aud": "another-client"},
        {"aud": [CLIENT_ID, "another-client"]},  # several audiences and no azp naming Kvit
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"nonce": "not-the-one-sent"},
        {"nonce": None},
        {"sub": None},
    ],
    ids=["issuer", "audience", "no-azp", "expired", "nonce", "no-nonce", "no-subject"],
)
def test_a_forged_id_token_signs_no_one_in(
    client: TestClient, provider: CraftedProvider, changes: dict[str, Any]
) -> None:
    assert refused(sign_in(client, provider, **changes), client)


def test_a_replayed_id_token_fails_on_its_nonce(
    client: TestClient, provider: CraftedProvider
) -> None:
    """An ID token from an earlier sign-in, answered again for a new one: its nonce was that
    sign-in's, and each sign-in sends a fresh one."""
    assert sign_in(client, provider).headers["location"] == "/#/accounts"
    earlier = provider.id_token
    client.cookies.clear()
    asked = start(client)
    provider.id_token = earlier
    assert refused(finish(client, asked["state"]), client)


def unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'kid': 'first'})}.{part(claims)}."


@pytest.mark.parametrize("forgery", ["stranger", "none", "hmac"])
def test_an_id_token_not_signed_by_the_provider_signs_no_one_in(
    client: TestClient, provider: CraftedProvider, forgery: str
) -> None:
    asked = start(client)
    claims = provider.claims(asked["nonce"])
    if forgery == "stranger":  # the provider's kid, someone else's key
        provider.id_token = provider.sign(claims, rsa_key("first"))
    elif forgery == "none":
        provider.id_token = unsigned(claims)
    else:  # HS256 keyed with the client secret, which OpenID Connect allows and Kvit does not
        key = OctKey.import_key(CLIENT_SECRET)
        provider.id_token = jwt.encode({"alg": "HS256", "kid": "first"}, claims, key)
    assert refused(finish(client, asked["state"]), client)


def test_a_rotated_key_is_fetched_and_made_up_kids_are_bounded(
    client: TestClient, provider: CraftedProvider
) -> None:
    assert sign_in(client, provider).headers["location"] == "/#/accounts"
    assert provider.jwks_fetches == 1
    provider.keys.insert(0, rsa_key("second"))  # rotated: the new key signs
    client.cookies.clear()
    assert sign_in(client, provider).headers["location"] == "/#/accounts"
    assert provider.jwks_fetches == 2
    for _ in range(3):  # kids nobody published: at most one more fetch per 5 s
        client.cookies.clear()
        asked = start(client)
        provider.id_token = provider.sign(provider.claims(asked["nonce"]), kid="made-up")
        assert refused(finish(client, asked["state"]), client)
    assert provider.jwks_fetches <= 3


def test_writes_on_the_cookie_need_the_csrf_token_and_kvits_origin(
    client: TestClient, provider: CraftedProvider
) -> None:
    sign_in(client, provider)
    csrf = client.get("/auth/session").json()["csrf_token"]
    assert client.get("/v1/me/wallets").status_code == 200  # reads need no token
    key = {"Idempotency-Key": "wallet-1"}
    answer = client.post("/v1/me/wallets", headers=key)
    assert answer.status_code == 403 and answer.json()["code"] == "csrf_failed"
    wrong = client.post("/v1/me/wallets", headers=key | {"X-CSRF-Token": "guessed"})
    assert wrong.status_code == 403
    elsewhere = key | {"X-CSRF-Token": csrf, "Origin": "https://kvit.test.evil.example"}
    assert client.post("/v1/me/wallets", headers=elsewhere).status_code == 403
    ours = key | {"X-CSRF-Token": csrf, "Origin": BASE}
    assert client.post("/v1/me/wallets", headers=ours).status_code == 201


def test_sign_out_needs_the_csrf_token_and_kills_the_session(
    client: TestClient, provider: CraftedProvider
) -> None:
    sign_in(client, provider)
    csrf = client.get("/auth/session").json()["csrf_token"]
    cookie = client.cookies[SESSION]
    assert client.post("/auth/logout").status_code == 403  # no one signs a resident out
    answer = client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200
    redirect = urlsplit(answer.json()["redirect"])
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == provider.issuer + "/logout"
    query = parse_qs(redirect.query)
    assert query == {"post_logout_redirect_uri": [BASE + "/"], "client_id": [CLIENT_ID]}
    assert not signed_in(client)
    client.cookies.set(SESSION, cookie)  # a copy kept from before: dead on the server
    assert client.get("/v1/me/accounts").status_code == 401


def access_token(provider: CraftedProvider, **changes: Any) -> dict[str, str]:
    claims = provider.claims("", **changes)
    del claims["nonce"]
    return {"Authorization": f"Bearer {provider.sign(claims, typ='at+jwt')}"}


def test_an_access_token_is_a_bearer_for_its_audience_only(
    client: TestClient, provider: CraftedProvider
) -> None:
    assert client.get("/v1/me/accounts", headers=access_token(provider)).status_code == 200
    for changes in ({"aud": "another-api"}, {"iss": "https://evil.example"}, {"exp": 1}):
        answer = client.get("/v1/me/accounts", headers=access_token(provider, **changes))
        assert answer.status_code == 401, changes
    asked = start(client)  # an ID token is not an access token
    id_token = provider.sign(provider.claims(asked["nonce"]))
    answer = client.get("/v1/me/accounts", headers={"Authorization": f"Bearer {id_token}"})
    assert answer.status_code == 401
    operator = access_token(provider, roles=["operator"])
    assert client.get("/v1/suppliers?inn=7700010007", headers=operator).status_code == 200
    assert client.get("/v1/me/accounts", headers=operator).status_code == 403


def test_sign_ins_in_flight_are_bounded(client: TestClient) -> None:
    """/auth/login needs no credentials: it must not let anyone fill the table."""
    services = client.app.state.services  # type: ignore[attr-defined]
    running = services.started()
    services.running = replace(running, sessions=replace(running.sessions, pending_limit=3))
    for _ in range(3):
        start(client)
    problem(client.get("/auth/login", follow_redirects=False), 503, "sign_in_busy")
