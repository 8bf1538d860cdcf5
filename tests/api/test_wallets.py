"""Wallets: opened by residents, read by their owner and auditors, topped up by card."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from projections.errors import ReadModelTimeoutError
from tests.api.helpers import (
    Headers,
    World,
    checkout,
    created,
    fund,
    keyed,
    open_wallet,
    problem,
    wallet_balance,
)


def test_new_wallet_is_empty_and_belongs_to_the_resident(
    client: TestClient, resident: Headers
) -> None:
    response = client.post("/v1/me/wallets", headers=keyed(resident))

    assert response.status_code == 201
    wallet = response.json()
    assert wallet["payer_id"] == "payer-anna"
    assert wallet["balance"] == 0
    shown = client.get(f"/v1/wallets/{wallet['id']}", headers=resident).json()
    assert (shown["id"], shown["balance"]) == (wallet["id"], 0)


def test_wallet_opens_with_an_empty_json_body(client: TestClient, resident: Headers) -> None:
    response = client.post("/v1/me/wallets", json={}, headers=keyed(resident))

    assert response.status_code == 201


def test_wallet_body_with_an_unknown_field_is_refused(
    client: TestClient, resident: Headers
) -> None:
    response = client.post("/v1/me/wallets", json={"currency": "RUB"}, headers=keyed(resident))

    problem(response, 422, "validation_error")


def test_each_key_opens_its_own_wallet(client: TestClient, resident: Headers) -> None:
    assert open_wallet(client, resident) != open_wallet(client, resident)


def test_a_replayed_wallet_opening_shows_the_funded_balance(
    client: TestClient, resident: Headers
) -> None:
    headers = keyed(resident)
    wallet = created(client.post("/v1/me/wallets", headers=headers))
    fund(client, resident, wallet["id"], 5000)

    again = client.post("/v1/me/wallets", headers=headers)

    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["balance"] == 5000
    assert again.json()["as_of"] > 0


def test_opening_a_wallet_answers_201_even_when_the_read_models_lag(
    client: TestClient, resident: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_models = client.app.state.services.started().read_models  # type: ignore[attr-defined]

    def lagging(*_: object, **__: object) -> None:
        raise ReadModelTimeoutError("simulated lag")

    async def lagging_on_the_loop(*_: object, **__: object) -> None:
        lagging()

    monkeypatch.setattr(read_models, "wait_for", lagging)
    monkeypatch.setattr(read_models, "wait_for_async", lagging_on_the_loop)  # the write route
    response = client.post("/v1/me/wallets", headers=keyed(resident))
    assert response.status_code == 201
    assert response.json()["balance"] == 0
    assert response.headers["kvit-read-models"] == "lagging"


def test_auditor_reads_any_wallet(
    client: TestClient, resident: Headers, auditor: Headers, world: World
) -> None:
    fund(client, resident, world.wallet_id, 1000)

    response = client.get(f"/v1/wallets/{world.wallet_id}", headers=auditor)

    assert response.status_code == 200
    assert response.json()["balance"] == 1000
    assert response.json()["payer_id"] == "payer-anna"


def test_top_up_is_credited_once_the_acquirer_approves(
    client: TestClient, resident: Headers, world: World
) -> None:
    response = client.post(
        f"/v1/wallets/{world.wallet_id}/top-ups", json={"amount": 50000}, headers=keyed(resident)
    )

    assert response.status_code == 201
    top_up = response.json()
    assert top_up["status"] == "processing"
    assert top_up["amount"] == 50000
    assert top_up["checkout_url"].startswith("http://kvit.test/sandbox/checkout/" + top_up["id"])
    assert wallet_balance(client, resident, world.wallet_id) == 0
    checkout(client, top_up["checkout_url"])
    assert wallet_balance(client, resident, world.wallet_id) == 50000


def test_declined_top_up_credits_nothing(
    client: TestClient, resident: Headers, world: World
) -> None:
    top_up = client.post(
        f"/v1/wallets/{world.wallet_id}/top-ups", json={"amount": 50000}, headers=keyed(resident)
    ).json()

    checkout(client, top_up["checkout_url"], approve=False)

    assert wallet_balance(client, resident, world.wallet_id) == 0


def test_top_ups_add_up(client: TestClient, resident: Headers, world: World) -> None:
    fund(client, resident, world.wallet_id, 1000)
    fund(client, resident, world.wallet_id, 2500)

    assert wallet_balance(client, resident, world.wallet_id) == 3500


@pytest.mark.parametrize(
    "amount",
    [0, -100, 1.5, 100.0, "100", True, None, 10**12 + 1],
    ids=["zero", "negative", "fraction", "float", "string", "bool", "null", "too-large"],
)
def test_top_up_amount_must_be_positive_whole_kopecks(
    client: TestClient, resident: Headers, world: World, amount: object
) -> None:
    response = client.post(
        f"/v1/wallets/{world.wallet_id}/top-ups", json={"amount": amount}, headers=keyed(resident)
    )

    problem(response, 422, "validation_error")


def test_top_up_of_an_unknown_wallet_is_404(client: TestClient, resident: Headers) -> None:
    response = client.post(
        "/v1/wallets/00000000-0000-0000-0000-000000000001/top-ups",
        json={"amount": 100},
        headers=keyed(resident),
    )

    problem(response, 404, "unknown_wallet")
