"""Regressions for defects a review found at the edge."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.acquirer.signature import HEADER as SIGNATURE_HEADER
from api.config_checks import ConfigurationError
from ledger.application import Ledger
from projections.errors import ReadModelTimeoutError
from tests.api.helpers import Headers, World, build_app, keyed, problem


def test_a_non_ascii_signature_is_a_401_not_a_500(client: TestClient) -> None:
    response = client.post(
        "/v1/acquirer/notifications",
        content=b"{}",
        headers={SIGNATURE_HEADER: f"t={int(time.time())},v1=\u00ff".encode("latin-1")},  # type: ignore[dict-item]
    )
    problem(response, 401, "unauthorized")


def test_as_of_outside_the_calendar_is_a_422(
    client: TestClient, operator: Headers, world: World
) -> None:
    response = client.get(
        f"/v1/accounts/{world.account_id}",
        params={"as_of": "0001-01-01T00:00:00+14:00"},
        headers=operator,
    )
    assert response.status_code == 422


def test_opening_a_wallet_answers_201_even_when_the_read_models_lag(
    client: TestClient, resident: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_models = client.app.state.services.started().read_models  # type: ignore[attr-defined]

    def lagging(*_: object, **__: object) -> None:
        raise ReadModelTimeoutError("simulated lag")

    monkeypatch.setattr(read_models, "wait_for", lagging)
    response = client.post("/v1/me/wallets", headers=keyed(resident))
    assert response.status_code == 201
    assert response.json()["balance"] == 0
    assert response.headers["kvit-read-models"] == "lagging"


def test_without_the_sandbox_its_checkout_is_gone(tmp_path: Path, memory_ledger: Ledger) -> None:
    app = build_app(tmp_path, memory_ledger, sandbox_acquirer=False)
    with TestClient(app) as client:
        assert (
            client.get(
                "/sandbox/checkout/00000000-0000-0000-0000-000000000000?amount=1"
            ).status_code
            == 404
        )


def test_a_real_acquirer_needs_its_own_secret(tmp_path: Path, memory_ledger: Ledger) -> None:
    with pytest.raises(ConfigurationError, match="KVIT_ACQUIRER_SECRET"):
        build_app(
            tmp_path,
            memory_ledger,
            sandbox_acquirer=False,
            acquirer_secret="sandbox-acquirer-secret",
        )
