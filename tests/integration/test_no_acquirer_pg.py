"""`kvit serve` on PostgreSQL with no acquirer (the sandbox is off there unless asked for), as
an operator starts it: one line at start says card payments are off, the cabinet is told so,
and a card top-up is refused with 501 `card_payments_unavailable` instead of answering a
`checkout_url` that leads nowhere."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ledger.settings import Settings
from tests.integration.test_cli import KVIT, free_port, pg_env, run

pytestmark = pytest.mark.postgres
CARDS_OFF = "card payments are off"


def test_serve_on_postgres_without_an_acquirer_says_so_and_takes_no_card(
    tmp_path: Path, pg_settings: Settings
) -> None:
    env = pg_env(tmp_path, pg_settings)
    assert run(env, "migrate").returncode == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    server = subprocess.Popen(
        [KVIT, "serve", "--port", str(port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
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
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
