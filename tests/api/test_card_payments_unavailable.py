"""A server with no acquirer (PostgreSQL without the sandbox, or the sandbox turned off) takes
no card payment and no card top-up: it answers 501 `card_payments_unavailable` and records
nothing, instead of a `checkout_url` that leads nowhere and a payment left `processing`."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.application import Ledger
from ledger.payments.commands import CreatePayment
from storage.log import head
from tests.api.helpers import (
    PUBLIC_URL,
    Headers,
    World,
    build_app,
    keyed,
    my_payments,
    problem,
    wallet_balance,
)
from tests.fixtures import DOCUMENT_ID

POSTGRES_URL = "postgresql://kvit:kvit@db.invalid:5432/kvit"
GOOD = "x" * 40


@pytest.fixture
def app(tmp_path: Path, memory_ledger: Ledger) -> FastAPI:
    """No acquirer: the sandbox is off and none is plugged in."""
    return build_app(tmp_path, memory_ledger, sandbox_acquirer=False)


def unavailable(response: httpx.Response) -> None:
    body = problem(response, 501, "card_payments_unavailable")
    assert "Retry-After" not in response.headers  # not an outage: retrying will not help
    assert "wallet" in body["detail"]


@pytest.mark.parametrize("confirm", [True, False])
def test_a_card_payment_without_an_acquirer_is_refused_and_changes_nothing(
    client: TestClient, resident: Headers, world: World, memory_ledger: Ledger, confirm: bool
) -> None:
    before = head(memory_ledger)
    body = {"account_id": world.account_id, "method": "card", "confirm": confirm}
    unavailable(client.post("/v1/payments", json=body, headers=keyed(resident)))
    assert head(memory_ledger) == before
    assert my_payments(client, resident) == []


def test_a_card_top_up_without_an_acquirer_is_refused_and_changes_nothing(
    client: TestClient, resident: Headers, world: World, memory_ledger: Ledger
) -> None:
    before = head(memory_ledger)
    top_up = client.post(
        f"/v1/wallets/{world.wallet_id}/top-ups", json={"amount": 1000}, headers=keyed(resident)
    )
    unavailable(top_up)
    assert head(memory_ledger) == before
    assert wallet_balance(client, resident, world.wallet_id) == 0


def test_a_card_payment_created_earlier_cannot_be_confirmed_without_an_acquirer(
    client: TestClient, resident: Headers, world: World, memory_ledger: Ledger
) -> None:
    """One created while an acquirer was configured: confirming it would leave it
    `processing` with nowhere to pay, so it stays as it was (the payer may cancel it)."""
    created = memory_ledger.execute(
        CreatePayment.parse(
            payer_id="payer-anna",
            method="card",
            account_id=UUID(world.account_id),
            document_id=DOCUMENT_ID,
            idempotency_key="made-with-an-acquirer",
        )
    )
    payment_id = created.result["id"]
    before = head(memory_ledger)
    confirm = client.post(f"/v1/payments/{payment_id}/confirm", headers=keyed(resident))
    unavailable(confirm)
    assert head(memory_ledger) == before
    shown = client.get(f"/v1/payments/{payment_id}", headers=resident).json()
    assert shown["status"] == "requires_confirmation" and shown["checkout_url"] is None


def test_a_wallet_payment_still_works_without_an_acquirer(
    client: TestClient, resident: Headers, world: World
) -> None:
    body = {"account_id": world.account_id, "method": "wallet", "wallet_id": world.wallet_id}
    created = client.post("/v1/payments", json=body, headers=keyed(resident))
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "requires_confirmation"


def test_the_cabinet_is_told_card_payments_are_off(client: TestClient) -> None:
    config = client.get("/cabinet/config.json").json()
    assert config["card_payments"] is False


def test_the_cabinet_is_told_card_payments_are_on_with_the_sandbox(
    tmp_path: Path, memory_ledger: Ledger
) -> None:
    with TestClient(build_app(tmp_path, memory_ledger), base_url=PUBLIC_URL) as with_sandbox:
        assert with_sandbox.get("/cabinet/config.json").json()["card_payments"] is True


def test_on_postgres_by_default_there_is_no_acquirer(tmp_path: Path, memory_ledger: Ledger) -> None:
    app = build_app(
        tmp_path, memory_ledger, database_url=POSTGRES_URL, secret_key=GOOD, acquirer_secret=GOOD
    )
    assert app.state.services.acquirer is None
    # No lifespan: the cabinet's config needs no database.
    config = TestClient(app, base_url=PUBLIC_URL).get("/cabinet/config.json").json()
    assert config["card_payments"] is False
