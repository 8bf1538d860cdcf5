"""Who may do what: tokens, roles, and a resident's view limited to their own things."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from tests.api.helpers import (
    SECRET,
    SUPPLIER,
    Headers,
    World,
    account,
    bearer,
    fund,
    keyed,
    my_payments,
    pay,
    problem,
    wallet_balance,
)
from tests.fixtures import BILL_TOTAL, INN

UNKNOWN = "00000000-0000-0000-0000-000000000001"

# (method, path, who may call it). Paths name the world's ids; `payment` is the resident's.
# `supplier` is the world's supplier's own operator, `bank` a bank's (notices only).
ROUTES: list[tuple[str, str, set[str]]] = [
    ("POST", "/v1/suppliers", {"operator"}),
    ("GET", "/v1/suppliers/{supplier}", {"operator", "auditor", "supplier"}),
    ("GET", f"/v1/suppliers?inn={INN}", {"operator", "auditor", "supplier"}),
    ("POST", "/v1/accounts", {"operator", "supplier"}),
    ("POST", "/v1/accounts/{account}/bills", {"operator", "supplier"}),
    ("GET", "/v1/accounts/{account}", {"operator", "auditor", "resident", "supplier"}),
    ("GET", "/v1/accounts/{account}/payments", {"operator", "auditor", "supplier"}),
    ("POST", "/v1/me/accounts", {"resident"}),
    ("GET", "/v1/me/accounts", {"resident"}),
    ("POST", "/v1/me/wallets", {"resident"}),
    ("GET", "/v1/me/payments", {"resident"}),
    ("GET", "/v1/wallets/{wallet}", {"resident", "auditor"}),
    ("POST", "/v1/wallets/{wallet}/top-ups", {"resident"}),
    ("POST", "/v1/payments", {"resident"}),
    ("POST", "/v1/payments/{payment}/confirm", {"resident"}),
    ("POST", "/v1/payments/{payment}/cancel", {"resident"}),
    ("POST", "/v1/payments/{payment}/refunds", {"operator"}),
    ("GET", "/v1/payments/{payment}", {"operator", "auditor", "resident", "supplier"}),
]
ROLES = {
    "operator": bearer(Role.OPERATOR),
    "auditor": bearer(Role.AUDITOR),
    "resident": bearer(Role.RESIDENT, "payer-anna"),
    "bank": bearer(Role.BANK, bik="044525225"),
    "supplier": bearer(Role.SUPPLIER, inn=INN),
}


def route_id(route: tuple[str, str, set[str]]) -> str:
    return f"{route[0]} {route[1]}"


def call(
    client: TestClient, method: str, template: str, world: World, payment_id: str, headers: Headers
) -> Any:
    path = template.format(
        supplier=world.supplier_id,
        account=world.account_id,
        wallet=world.wallet_id,
        payment=payment_id,
    )
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, json={}, headers=keyed(headers))


@pytest.fixture
def payment_id(client: TestClient, resident: Headers, world: World) -> str:
    return str(pay(client, resident, world, method="card")["id"])


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic b3BlcmF0b3I6b3BlcmF0b3I="},
        bearer(Role.OPERATOR, secret="some-other-secret-of-the-same-length-00000"),
        bearer(Role.OPERATOR, lifetime=-10),
    ],
    ids=["none", "empty", "garbage", "basic", "wrong-secret", "expired"],
)
def test_missing_or_bad_token_is_401(
    client: TestClient, route: tuple[str, str, set[str]], headers: Headers
) -> None:
    method, template, _ = route
    nowhere = World(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN)

    response = call(client, method, template, nowhere, UNKNOWN, headers)

    problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_missing_token_is_401_even_with_a_malformed_body(client: TestClient) -> None:
    response = client.post(
        "/v1/suppliers", content=b"{", headers={"content-type": "application/json"}
    )

    problem(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "resident"},  # a resident must name their payer
        {"role": "superuser"},
        {"sub": "payer-anna"},
    ],
    ids=["resident-without-payer", "unknown-role", "no-role"],
)
def test_token_with_bad_claims_is_401(client: TestClient, claims: dict[str, str]) -> None:
    token = jwt.encode({**claims, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")

    response = client.get("/v1/me/payments", headers={"Authorization": f"Bearer {token}"})

    problem(response, 401, "unauthorized")


def test_a_token_accepted_before_is_refused_once_it_expires(client: TestClient) -> None:
    # Verified tokens are remembered (api/auth.py); their expiry must still count.
    token = jwt.encode({"role": "operator", "exp": int(time.time()) + 2}, SECRET, algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/v1/suppliers?inn={INN}", headers=headers).status_code != 401

    time.sleep(max(0.0, jwt.decode(token, SECRET, algorithms=["HS256"])["exp"] - time.time()))

    problem(client.get(f"/v1/suppliers?inn={INN}", headers=headers), 401, "unauthorized")


def test_a_token_without_exp_is_refused(client: TestClient) -> None:
    token = jwt.encode({"role": "operator"}, SECRET, algorithm="HS256")
    response = client.get(
        "/v1/suppliers", params={"inn": INN}, headers={"Authorization": f"Bearer {token}"}
    )
    problem(response, 401, "unauthorized")
    ends = jwt.encode({"role": "operator", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    assert (
        client.get(
            "/v1/suppliers", params={"inn": INN}, headers={"Authorization": f"Bearer {ends}"}
        ).status_code
        == 200
    )


def test_unsigned_token_is_401(client: TestClient) -> None:
    token = jwt.encode({"role": "operator"}, key="", algorithm="none")

    response = client.get(f"/v1/suppliers?inn={INN}", headers={"Authorization": f"Bearer {token}"})

    problem(response, 401, "unauthorized")


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_each_role_is_allowed_exactly_where_the_contract_says(
    client: TestClient, world: World, payment_id: str, route: tuple[str, str, set[str]]
) -> None:
    method, template, allowed = route
    for name, headers in ROLES.items():
        response = call(client, method, template, world, payment_id, headers)

        if name in allowed:
            assert response.status_code not in (401, 403), (name, response.text)
        else:
            problem(response, 403, "forbidden")


def test_auditor_writes_nothing(
    client: TestClient, auditor: Headers, operator: Headers, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, BILL_TOTAL)
    payment = pay(client, resident, world, confirm=True)
    attempts = [
        ("/v1/suppliers", {**SUPPLIER, "inn": "7707083893"}),
        ("/v1/payments", {"account_id": world.account_id, "method": "card"}),
        (f"/v1/payments/{payment['id']}/refunds", {"amount": 1}),
        (f"/v1/wallets/{world.wallet_id}/top-ups", {"amount": 1}),
        ("/v1/me/wallets", {}),
    ]

    for path, body in attempts:
        problem(client.post(path, json=body, headers=keyed(auditor)), 403, "forbidden")

    assert client.get("/v1/suppliers?inn=7707083893", headers=operator).json()["items"] == []
    assert wallet_balance(client, resident, world.wallet_id) == 0
    assert len(my_payments(client, resident)) == 1
    assert account(client, operator, world.account_id)["balance"]["refunded"] == 0


# --- a resident sees only their own --------------------------------------------------------------
def same_problem_but_ids(mine: Any, unknown: Any) -> None:
    """Another's thing and a thing that does not exist must look alike (no existence oracle)."""
    assert mine.status_code == unknown.status_code == 404
    a, b = mine.json(), unknown.json()
    assert (a["code"], a["title"], sorted(a)) == (b["code"], b["title"], sorted(b))


def test_another_residents_wallet_is_not_found(
    client: TestClient, other_resident: Headers, world: World
) -> None:
    theirs = client.get(f"/v1/wallets/{world.wallet_id}", headers=other_resident)
    unknown = client.get(f"/v1/wallets/{UNKNOWN}", headers=other_resident)

    same_problem_but_ids(theirs, unknown)


def test_another_residents_wallet_cannot_be_topped_up(
    client: TestClient, resident: Headers, other_resident: Headers, world: World
) -> None:
    response = client.post(
        f"/v1/wallets/{world.wallet_id}/top-ups",
        json={"amount": 100},
        headers=keyed(other_resident),
    )
    unknown = client.post(
        f"/v1/wallets/{UNKNOWN}/top-ups", json={"amount": 100}, headers=keyed(other_resident)
    )

    same_problem_but_ids(response, unknown)
    assert wallet_balance(client, resident, world.wallet_id) == 0


def test_unlinked_account_is_not_found(
    client: TestClient, other_resident: Headers, world: World
) -> None:
    theirs = client.get(f"/v1/accounts/{world.account_id}", headers=other_resident)
    unknown = client.get(f"/v1/accounts/{UNKNOWN}", headers=other_resident)

    same_problem_but_ids(theirs, unknown)
    assert client.get("/v1/me/accounts", headers=other_resident).json()["items"] == []


def test_another_residents_payment_is_not_found_and_cannot_be_touched(
    client: TestClient, resident: Headers, other_resident: Headers, world: World, payment_id: str
) -> None:
    same_problem_but_ids(
        client.get(f"/v1/payments/{payment_id}", headers=other_resident),
        client.get(f"/v1/payments/{UNKNOWN}", headers=other_resident),
    )
    for action in ("confirm", "cancel"):
        response = client.post(f"/v1/payments/{payment_id}/{action}", headers=keyed(other_resident))
        unknown = client.post(f"/v1/payments/{UNKNOWN}/{action}", headers=keyed(other_resident))
        same_problem_but_ids(response, unknown)

    shown = client.get(f"/v1/payments/{payment_id}", headers=resident).json()
    assert shown["status"] == "requires_confirmation"
    assert my_payments(client, other_resident) == []
