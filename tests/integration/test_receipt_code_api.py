"""A payment's receipt code over HTTP (api/routes/receipt_codes.py), embedded: refused until a
signed checkpoint covers the payment, then an SVG, a PNG that a barcode reader reads, and
text, which docs/verify_receipt.py checks offline; only for those who may see the payment."""

from __future__ import annotations

import io
import time
from pathlib import Path
from uuid import UUID

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image

from api.app import create_app
from api.auth import Role
from audit.service import checkpoint_now
from audit.signing import AuditSettings
from ledger.bootstrap import build_ledger, migrate
from ledger.payments.commands import CreatePayment
from tests.api.helpers import PUBLIC_URL, api_settings, bearer
from tests.fixtures import INN, setup_world
from tests.unit.test_receipt_code import verify_receipt


def test_a_signed_payment_has_a_code_the_checker_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KVIT_AUDIT_CHECKPOINT_EVERY_EVENTS", "1000000")
    settings = api_settings(tmp_path / "var")
    migrate(settings)
    ledger = build_ledger(settings)
    app = create_app(settings, ledger=ledger)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        world = setup_world(ledger, wallet_balance=1_000_000)
        paid = ledger.execute(
            CreatePayment.parse(
                payer_id=world.payer_id,
                method="wallet",
                idempotency_key="p1",
                account_id=world.account_id,
                wallet_id=world.wallet_id,
                amount=467_155,
                confirm=True,
            )
        )
        path = f"/v1/payments/{UUID(paid.result['id'])}/receipt/code"
        payer = bearer(Role.RESIDENT, world.payer_id)
        unsigned = client.get(path, headers=payer)
        assert unsigned.status_code == 409, unsigned.text
        assert unsigned.json()["code"] == "receipt_not_signed"

        store = app.state.services.started().audit_store
        deadline = time.monotonic() + 10
        while store.chain_row(paid.position) is None:  # the follower chains it, unsigned
            assert time.monotonic() < deadline, "the embedded follower did not chain"
            time.sleep(0.05)
        checkpoint_now(ledger, store, AuditSettings(**settings.model_dump()))

        svg = client.get(path, headers=payer)
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.text.startswith("<svg")
        png = client.get(path, params={"format": "png"}, headers=payer)
        [scanned] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
        text = client.get(path, params={"format": "text"}, headers=payer).text
        assert scanned.text == text.strip() and text.startswith("KVR2:")

        key = client.get("/v1/audit/key").text.strip()
        assert verify_receipt.main([scanned.text, "--log-key", key]) == 0
        said = capsys.readouterr().out
        assert f"this payment of 4\u00a0671,55 \u20bd to ИНН {INN}" in said
        assert "succeeded at" in said

        stranger = client.get(path, headers=bearer(Role.RESIDENT, "someone-else"))
        assert stranger.status_code == 404
        assert client.get(path, headers=bearer(Role.AUDITOR)).status_code == 200
    ledger.close()
