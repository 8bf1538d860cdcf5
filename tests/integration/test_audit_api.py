"""The auditors' HTTP surface in embedded mode (SQLite): the follower inside the server chains
and checkpoints, the event feed equals the export, receipts, and as-of account balances."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role
from audit.export import export
from ledger.bootstrap import build_ledger, migrate
from ledger.payments.commands import CreatePayment
from tests.api.helpers import PUBLIC_URL, api_settings, bearer
from tests.fixtures import setup_world


def test_feed_receipt_and_as_of_over_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVIT_AUDIT_CHECKPOINT_EVERY_EVENTS", "5")
    settings = api_settings(tmp_path / "var")
    migrate(settings)
    ledger = build_ledger(settings)
    app = create_app(settings, ledger=ledger)
    auditor = bearer(Role.AUDITOR)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        world = setup_world(ledger, wallet_balance=100_000)
        before = ledger.recorder.max_notification_id()
        paid = ledger.execute(
            CreatePayment.parse(
                payer_id=world.payer_id,
                method="wallet",
                idempotency_key="p1",
                account_id=world.account_id,
                wallet_id=world.wallet_id,
                amount=1234,
                confirm=True,
            )
        )
        payment_id = UUID(paid.result["id"])
        store = app.state.services.started().audit_store
        assert store is not None
        deadline = time.monotonic() + 10
        while not store.checkpoints(at_or_after=paid.position):
            assert time.monotonic() < deadline, "the embedded follower did not checkpoint"
            time.sleep(0.05)

        lines, after = [], 0
        while True:
            page = client.get(
                "/v1/audit/events", params={"after": after, "limit": 7}, headers=auditor
            )
            assert page.status_code == 200, page.text
            lines += page.json()["events"]
            after = page.json()["next_after"]
            if page.json()["done"]:
                break
        export(ledger, store, tmp_path / "export")
        exported = (tmp_path / "export/events.jsonl").read_text().splitlines()
        assert len(lines) == len(exported) == ledger.recorder.max_notification_id()
        assert all(line["chain_hash"] for line in lines)

        receipt = client.get(
            f"/v1/payments/{payment_id}", headers=bearer(Role.RESIDENT, world.payer_id)
        )
        assert receipt.status_code == 200, receipt.text
        body = receipt.json()["receipt"]
        assert body["status"] == "sealed" and body["position"] <= body["checkpoint"]["position"]
        assert body["events"][0]["topic"] == "kvit.payment.created"

        now = client.get(f"/v1/accounts/{world.account_id}", headers=auditor).json()
        then = client.get(
            f"/v1/accounts/{world.account_id}", params={"as_of": before}, headers=auditor
        ).json()
        assert now["balance"]["paid"] == 1234 and then["balance"]["paid"] == 0
        assert then["as_of"] == before
        bad = client.get(
            f"/v1/accounts/{world.account_id}", params={"as_of": "yesterday"}, headers=auditor
        )
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_as_of"
        wallet = client.get(
            f"/v1/audit/ledger-accounts/wallet:{world.wallet_id}",
            params={"as_of": before},
            headers=auditor,
        ).json()
        assert wallet["balance"] == -100_000
        forbidden = client.get("/v1/audit/events", headers=bearer(Role.RESIDENT, "x"))
        assert forbidden.status_code == 403
    ledger.close()
