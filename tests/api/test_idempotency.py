"""Idempotency keys: required on every create or money move, scoped to the caller, replayable.

A retry with the same key and body returns the original status and body; the same key with a
different body is refused; concurrent first attempts with one key make one payment. Concurrent
commands on one wallet are serialised, so contention alone fails nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import (
    SUPPLIER,
    Headers,
    World,
    bill_body,
    fund,
    keyed,
    my_payments,
    pay,
    problem,
    wallet_balance,
)
from tests.fixtures import ACCOUNT_NUMBER, BILL_TOTAL, INN

REPLAYED = "idempotent-replayed"

# Every keyed POST: (route template, who calls it, a valid body). Ids come from the world.
KEYED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("/v1/suppliers", "operator", {**SUPPLIER, "inn": "7707083893"}),
    ("/v1/accounts", "operator", {"account_number": "0667000002", "address": "кв. 2"}),
    ("/v1/accounts/{account}/bills", "operator", bill_body("70АА000560-01-6104")),
    ("/v1/me/accounts", "resident", {"supplier_inn": INN, "account_number": ACCOUNT_NUMBER}),
    ("/v1/me/wallets", "resident", None),
    ("/v1/wallets/{wallet}/top-ups", "resident", {"amount": 100}),
    ("/v1/payments", "resident", {"method": "card", "amount": 500}),
    ("/v1/payments/{payment}/confirm", "resident", None),
    ("/v1/payments/{payment}/cancel", "resident", None),
    ("/v1/payments/{payment}/refunds", "operator", {"amount": 100}),
]


@pytest.fixture
def send(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> Callable[..., httpx.Response]:
    """POST a KEYED route as its caller, with ids from the world and a fresh wallet payment."""
    fund(client, resident, world.wallet_id, 2 * BILL_TOTAL)
    payments = {
        "/refunds": pay(client, resident, world, confirm=True)["id"],
        "/confirm": pay(client, resident, world, amount=100)["id"],
        "/cancel": pay(client, resident, world, amount=100)["id"],
    }
    callers = {"operator": operator, "resident": resident}

    def post(
        template: str, who: str, body: dict[str, Any] | None, key: str | None
    ) -> httpx.Response:
        payment = next((p for suffix, p in payments.items() if template.endswith(suffix)), "")
        path = template.format(account=world.account_id, wallet=world.wallet_id, payment=payment)
        if body is not None and template == "/v1/accounts":
            body = {**body, "supplier_id": world.supplier_id}
        if body is not None and template == "/v1/payments":
            body = {**body, "account_id": world.account_id}
        headers = callers[who] if key is None else keyed(callers[who], key)
        return client.post(path, json=body, headers=headers)

    return post


@pytest.mark.parametrize(("template", "who", "body"), KEYED, ids=[k[0] for k in KEYED])
def test_keyed_post_without_a_key_is_400(
    send: Callable[..., httpx.Response], template: str, who: str, body: dict[str, Any] | None
) -> None:
    problem(send(template, who, body, key=None), 400, "idempotency_key_missing")


@pytest.mark.parametrize(("template", "who", "body"), KEYED, ids=[k[0] for k in KEYED])
def test_retry_with_the_same_key_returns_the_original_status_and_body(
    send: Callable[..., httpx.Response], template: str, who: str, body: dict[str, Any] | None
) -> None:
    first = send(template, who, body, key="retry-me")

    retry = send(template, who, body, key="retry-me")

    assert first.status_code in (200, 201), first.text
    assert REPLAYED not in first.headers
    assert retry.status_code == first.status_code
    assert retry.headers[REPLAYED] == "true"
    if template in ("/v1/me/accounts", "/v1/me/wallets"):
        # These answer with the resource as it is now (with `as_of`), not a stored body.
        assert retry.json()["id"] == first.json()["id"]
    else:
        assert retry.json() == first.json()


def test_missing_key_creates_nothing(
    client: TestClient, operator: Headers, resident: Headers, world: World
) -> None:
    body = {"account_id": world.account_id, "method": "card"}

    problem(
        client.post("/v1/payments", json=body, headers=resident), 400, "idempotency_key_missing"
    )
    problem(
        client.post("/v1/suppliers", json={**SUPPLIER, "inn": "7707083893"}, headers=operator),
        400,
        "idempotency_key_missing",
    )

    assert my_payments(client, resident) == []
    assert client.get("/v1/suppliers?inn=7707083893", headers=operator).json()["items"] == []


def test_empty_key_is_missing(client: TestClient, resident: Headers, world: World) -> None:
    body = {"account_id": world.account_id, "method": "card"}

    response = client.post("/v1/payments", json=body, headers={**resident, "Idempotency-Key": ""})

    problem(response, 400, "idempotency_key_missing")


def test_key_longer_than_255_characters_is_refused(
    client: TestClient, resident: Headers, world: World
) -> None:
    body = {"account_id": world.account_id, "method": "card"}

    response = client.post("/v1/payments", json=body, headers=keyed(resident, "k" * 256))

    problem(response, 422, "validation_error")
    assert my_payments(client, resident) == []


def test_replay_returns_the_original_even_after_the_payment_moved_on(
    client: TestClient, resident: Headers, world: World
) -> None:
    body = {"account_id": world.account_id, "method": "card"}
    first = client.post("/v1/payments", json=body, headers=keyed(resident, "pay-1"))
    client.post(f"/v1/payments/{first.json()['id']}/cancel", headers=keyed(resident))

    retry = client.post("/v1/payments", json=body, headers=keyed(resident, "pay-1"))

    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.json()["status"] == "requires_confirmation"
    assert len(my_payments(client, resident)) == 1


def test_same_key_with_a_different_body_is_refused(
    client: TestClient, resident: Headers, world: World
) -> None:
    body = {"account_id": world.account_id, "method": "card"}
    first = client.post("/v1/payments", json=body, headers=keyed(resident, "pay-1"))

    reused = client.post(
        "/v1/payments", json={**body, "amount": 100}, headers=keyed(resident, "pay-1")
    )

    problem(reused, 422, "idempotency_key_reused")
    assert [p["id"] for p in my_payments(client, resident)] == [first.json()["id"]]


def test_same_key_on_another_command_is_refused(
    client: TestClient, resident: Headers, world: World
) -> None:
    client.post(
        "/v1/payments",
        json={"account_id": world.account_id, "method": "card"},
        headers=keyed(resident, "k-1"),
    )

    response = client.post(
        f"/v1/wallets/{world.wallet_id}/top-ups",
        json={"amount": 100},
        headers=keyed(resident, "k-1"),
    )

    body = problem(response, 422, "idempotency_key_reused")
    assert body["original_command"] == "create_payment"


def test_keys_are_scoped_to_the_caller(
    client: TestClient, operator: Headers, resident: Headers, other_resident: Headers, world: World
) -> None:
    body = {"supplier_inn": INN, "account_number": ACCOUNT_NUMBER, "method": "card"}

    mine = client.post("/v1/payments", json=body, headers=keyed(resident, "same-key"))
    theirs = client.post("/v1/payments", json=body, headers=keyed(other_resident, "same-key"))

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert REPLAYED not in theirs.headers
    assert len(my_payments(client, resident)) == len(my_payments(client, other_resident)) == 1


# --- concurrency ---------------------------------------------------------------------------------
def concurrently(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_concurrent_requests_with_one_key_make_one_payment(
    client: TestClient, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 3 * BILL_TOTAL)
    body = {
        "account_id": world.account_id,
        "method": "wallet",
        "wallet_id": world.wallet_id,
        "confirm": True,
    }
    headers = keyed(resident, "one-payment")

    responses = concurrently([lambda: client.post("/v1/payments", json=body, headers=headers)] * 8)

    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.text for r in responses}) == 1
    assert responses[0].json()["status"] == "succeeded"
    assert len(my_payments(client, resident)) == 1
    assert wallet_balance(client, resident, world.wallet_id) == 2 * BILL_TOTAL


def test_contention_on_one_wallet_fails_no_payment_that_would_succeed_alone(
    client: TestClient, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 8 * 1000)
    body = {
        "account_id": world.account_id,
        "method": "wallet",
        "wallet_id": world.wallet_id,
        "amount": 1000,
        "confirm": True,
    }

    responses = concurrently(
        [
            lambda key=key: client.post("/v1/payments", json=body, headers=keyed(resident, key))
            for key in (f"pay-{i}" for i in range(8))
        ]
    )

    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert {r.json()["status"] for r in responses} == {"succeeded"}
    assert wallet_balance(client, resident, world.wallet_id) == 0
    assert len(my_payments(client, resident)) == 8


def test_concurrent_payments_never_overdraw_the_wallet(
    client: TestClient, resident: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 3 * 1000)
    body = {
        "account_id": world.account_id,
        "method": "wallet",
        "wallet_id": world.wallet_id,
        "amount": 1000,
        "confirm": True,
    }

    responses = concurrently(
        [
            lambda key=key: client.post("/v1/payments", json=body, headers=keyed(resident, key))
            for key in (f"pay-{i}" for i in range(6))
        ]
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 201, 201, 409, 409, 409]
    for refused in (r for r in responses if r.status_code == 409):
        problem(refused, 409, "insufficient_funds")
    assert wallet_balance(client, resident, world.wallet_id) == 0
    assert len(my_payments(client, resident)) == 3
