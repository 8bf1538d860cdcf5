"""End to end through real processes: `kvit serve` on PostgreSQL with 2 workers, the projection
runner and the mail worker; a card payment approved through the sandbox acquirer shows in the
history at once, and its e-mail notice reaches a real SMTP server exactly once."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.settings import Settings
from tests.integration.test_notices import Inbox
from tests.processes import KVIT, free_port, launch, read_logs, stop_all, wait_ready

OPERATOR_HEADERS: dict[str, str] = {}


def kvit(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [KVIT, *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def service(
    pg_settings: Settings, smtp_inbox: tuple[int, Inbox], tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "KVIT_DATABASE_URL": str(pg_settings.database_url),
        "KVIT_DATABASE_SCHEMA": str(pg_settings.database_schema),
        "KVIT_DATA_DIR": str(tmp_path / "var"),
        "KVIT_SECRET_KEY": "e2e-secret-key-that-is-long-enough-for-hs256",
        "KVIT_ACQUIRER_SECRET": "e2e-acquirer-secret-that-is-long-enough-too",
        "KVIT_SANDBOX_ACQUIRER": "true",  # a development choice on PostgreSQL
        "KVIT_SMTP_URL": f"smtp://127.0.0.1:{smtp_inbox[0]}",
        "KVIT_PUBLIC_URL": base,
        "KVIT_DATABASE_POOL_SIZE": "4",
    }
    kvit(env, "migrate")
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = [
        launch(env, logs, *args)
        for args in (("project",), ("mail",), ("serve", "--port", str(port), "--workers", "2"))
    ]
    try:
        wait_ready(base, watch=processes, said=lambda: read_logs(logs))
        yield base, env
        print(read_logs(logs))  # shown by pytest only when the test failed
    finally:
        stop_all(*processes)


def test_card_payment_approved_in_the_sandbox_shows_at_once_and_mails_once(
    service: tuple[str, dict[str, str]], smtp_inbox: tuple[int, Inbox]
) -> None:
    base, env = service
    operator = {"Authorization": f"Bearer {kvit(env, 'token', '--role', 'operator')}"}
    resident = {
        "Authorization": f"Bearer {kvit(env, 'token', '--role', 'resident', '--payer', 'anna')}"
    }
    client = httpx.Client(base_url=base, timeout=10)

    def post(path: str, headers: dict[str, str], key: str, body: dict[str, object]) -> dict:
        response = client.post(path, json=body, headers={**headers, "Idempotency-Key": key})
        assert response.status_code == 201 or response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    supplier = post(
        "/v1/suppliers",
        operator,
        "s",
        {
            "inn": "7701234560",
            "kpp": "770101001",
            "name": 'ООО "УК Пример"',
            "requisites": {
                "bik": "044525225",
                "settlement_account": "40702810138250123017",
                "correspondent_account": "30101810400000000225",
                "bank_name": "ПАО СБЕРБАНК",
            },
        },
    )
    account = post(
        "/v1/accounts",
        operator,
        "a",
        {"supplier_id": supplier["id"], "account_number": "0667000001", "address": "Москва"},
    )
    post(
        f"/v1/accounts/{account['id']}/bills",
        operator,
        "b",
        {
            "document_id": "70АА000560-01-6103",
            "period": "2026-03",
            "lines": [{"service": "Отопление", "amount": 523417}],
            "due_date": "2026-04-15",
        },
    )
    post(
        "/v1/me/accounts",
        resident,
        "l",
        {
            "supplier_inn": "7701234560",
            "account_number": "0667000001",
            "proof": {"document_id": "70АА000560-01-6103"},
        },
    )
    payment = post(
        "/v1/payments",
        resident,
        "p",
        {
            "account_id": account["id"],
            "document_id": "70АА000560-01-6103",
            "method": "card",
            "email": "anna@example.org",
            "confirm": True,
        },
    )
    assert payment["status"] == "processing"
    checkout = payment["checkout_url"]
    assert client.get(checkout).status_code == 200

    approved = client.post(
        checkout,
        content="decision=approve&amount=523417",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert approved.status_code == 200 and "200" in approved.text

    history = client.get("/v1/me/payments", headers=resident).json()
    assert [(i["id"], i["status"]) for i in history["items"]] == [(payment["id"], "succeeded")]
    balance = client.get(f"/v1/accounts/{account['id']}", headers=resident).json()["balance"]
    assert balance["paid"] == 523417 and balance["due"] == 0

    _, inbox = smtp_inbox
    deadline = time.monotonic() + 15
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # a duplicate would arrive within the worker's next rounds
    assert len(inbox.messages) == 1
    assert inbox.messages[0]["Message-ID"] == f"<payment-{payment['id']}@kvit>"
