"""`kvit serve` on PostgreSQL with no acquirer (the sandbox is off there unless asked for), as
an operator starts it: one line at start says card payments are off, the cabinet is told so,
and a card top-up is refused with 501 `card_payments_unavailable` instead of answering a
`checkout_url` that leads nowhere."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ledger.settings import Settings
from tests.integration.test_cli import pg_env, run
from tests.processes import kvit_serve

pytestmark = pytest.mark.postgres
CARDS_OFF = "card payments are off"


def test_serve_on_postgres_without_an_acquirer_says_so_and_takes_no_card(
    tmp_path: Path, pg_settings: Settings
) -> None:
    env = pg_env(tmp_path, pg_settings)
    assert run(env, "migrate").returncode == 0
    log = tmp_path / "serve.log"
    with kvit_serve(env, log=log) as base:
        said = [line for line in log.read_text().splitlines() if CARDS_OFF in line]
        assert len(said) == 1, log.read_text()
        assert httpx.get(f"{base}/cabinet/config.json").json()["card_payments"] is False

        token = run(env, "token", "--role", "resident", "--payer", "anna").stdout.strip()
        me = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=me, timeout=10) as client:
            wallet = client.post("/v1/me/wallets", headers={"Idempotency-Key": "w"}).json()
            top_up = client.post(
                f"/v1/wallets/{wallet['id']}/top-ups",
                json={"amount": 1000},
                headers={"Idempotency-Key": "t"},
            )
            assert top_up.status_code == 501, top_up.text
            assert top_up.json()["code"] == "card_payments_unavailable"
