"""The log as a transparency log, served by a live (embedded) deployment and checked by a
verifier written from the specs alone (tlog_spec.py), a witness, and the offline receipt
checker (docs/verify_receipt.py)."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role
from audit import note, receipt_code
from audit.witness import InconsistentLogError, Witness, decode_proof
from ledger.bootstrap import build_ledger, migrate
from tests.api.helpers import PUBLIC_URL, api_settings, bearer
from tests.fixtures import INN, setup_world
from tests.integration import tlog_spec as spec
from tests.integration.log_fixtures import pay_signed

ROOT = Path(__file__).resolve().parents[2]
PAYMENTS = 70  # a little over 256 events: one full tile of leaves and a partial one


def load(name: str) -> ModuleType:
    loaded = importlib.util.spec_from_file_location(name, ROOT / f"docs/{name}.py")
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


verify_receipt = load("verify_receipt")


def test_a_live_log_checks_out_with_an_independent_verifier_a_witness_and_a_receipt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVIT_AUDIT_CHECKPOINT_EVERY_EVENTS", "50")
    monkeypatch.setenv("KVIT_AUDIT_CHECKPOINT_INTERVAL_SECONDS", "0.2")
    witness_key = Ed25519PrivateKey.generate()
    witness_vkey = note.Verifier("witness.example", note.COSIGNATURE, note.raw_public(witness_key))
    monkeypatch.setenv("KVIT_LOG_WITNESSES", witness_vkey.text())
    settings = api_settings(tmp_path / "var")
    migrate(settings)
    ledger = build_ledger(settings)
    app = create_app(settings, ledger=ledger)
    auditor = bearer(Role.AUDITOR)
    with TestClient(app, base_url=PUBLIC_URL) as client:
        world = setup_world(ledger, wallet_balance=100_000_000)
        store = app.state.services.started().audit_store
        # Two batches: two signed checkpoints to prove consistent.
        head, paid = pay_signed(ledger, store, world, PAYMENTS, amount=467_155)

        # The key and the checkpoint need no token; the checkpoint is the signed note.
        vkey = client.get("/v1/audit/key").text.strip()
        assert vkey.startswith("testserver/log+") or vkey.split("+")[0].endswith("/log")
        checkpoint = client.get("/log/checkpoint")
        assert checkpoint.headers["cache-control"] == "no-store"
        origin, size, root = spec.open_note(checkpoint.text, vkey)
        assert size >= head > 256

        # The whole tree from public tiles, as a static-file client would fetch it.
        tiles: dict[str, bytes] = {}

        def fetch(path: str) -> bytes:
            got = client.get(f"/log/{path}")
            assert got.status_code == 200, (path, got.text)
            assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
            tiles[path] = got.content
            return got.content

        leaves = spec.leaf_hashes_from_tiles(fetch, size)
        assert spec.mth(leaves) == root
        assert fetch("tile/1/000.p/1") == spec.mth(leaves[:256])
        assert client.get("/log/tile/0/001.p/255").status_code == 404  # beyond the tree
        assert client.get("/log/tile/entries/000").status_code == 404  # events: auditors only

        # Entries: each leaf hash is SHA-256(0x00 ‖ entry), from the auditors' bundles.
        entries: list[bytes] = []
        for index in range((size + 255) // 256):
            width = min(256, size - 256 * index)
            path = "entries/" + spec.tile_name(0, index, width).removeprefix("0/")
            got = client.get(f"/v1/audit/log/tile/{path}", headers=auditor)
            assert got.status_code == 200, got.text
            entries += spec.entries(got.content)
        assert [spec.sha(b"\x00" + e) for e in entries] == leaves
        assert entries[0].startswith(b"kvit.event.v1\n")

        # Proofs, from the public endpoints, checked by the RFC's algorithms.
        for index in (0, 1, 255, 256, size - 1):
            got = client.get("/v1/audit/proof/inclusion", params={"index": index, "size": size})
            proof = [base64.b64decode(h) for h in got.json()["proof"]]
            assert spec.inclusion_ok(leaves[index], index, size, proof, root)
            assert not spec.inclusion_ok(leaves[index - 1], index, size, proof, root)
        sizes = [s for s, _ in store.notes()]
        assert len(sizes) >= 2
        for first in sizes[:-1]:
            got = client.get("/v1/audit/proof/consistency", params={"first": first, "second": size})
            proof = [base64.b64decode(h) for h in got.json()["proof"]]
            assert spec.consistency_ok(first, size, spec.mth(leaves[:first]), root, proof)
        beyond = client.get("/v1/audit/proof/inclusion", params={"index": size, "size": size})
        assert beyond.status_code == 422 and beyond.json()["code"] == "not_in_tree"

        # A witness cosigns what extends what it saw, and the log publishes the cosignature.
        log_key = note.Verifier.parse(vkey)
        witness = Witness("witness.example", witness_key, log_key, tmp_path / "witness")

        def consistency(first: int, second: int) -> list[bytes]:
            got = client.get(
                "/v1/audit/proof/consistency", params={"first": first, "second": second}
            )
            return decode_proof(got.json()["proof"])

        early = store.notes(at_or_after=sizes[0], limit=1)[0][1]
        witness.observe(early, consistency)
        cosigned = witness.observe(checkpoint.text, consistency)
        added = client.post(
            "/log/cosignature",
            params={"size": size},
            content=cosigned.line,
            headers={"Content-Type": "text/plain"},
        )
        assert added.status_code == 204, added.text
        published = client.get("/log/checkpoint").text
        assert spec.cosigned_by(published, "witness.example", note.raw_public(witness_key)) > 0
        assert spec.open_note(published, vkey) == (origin, size, root)
        stranger = note.cosign(
            note.parse_note(published).body, "witness.example", Ed25519PrivateKey.generate()
        )
        refused = client.post(
            "/log/cosignature",
            params={"size": size},
            content=stranger,
            headers={"Content-Type": "text/plain"},
        )
        assert refused.status_code == 422

        # A fork: the same key signs another history of more leaves. The witness refuses.
        signing = settings.data_dir / "audit_signing_key"
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(signing.read_text().strip()))
        forked = note.sign_note(note.checkpoint_body(origin, size + 1, bytes(32)), origin, key)
        with pytest.raises(InconsistentLogError):
            witness.observe(forked, lambda a, b: consistency(a, size))

        # The payer's receipt, checked offline, as JSON and in its compact (QR) form.
        payment = client.get(
            f"/v1/payments/{UUID(paid.result['id'])}",
            headers=bearer(Role.RESIDENT, world.payer_id),
        )
        tlog = payment.json()["receipt"]["tlog"]
        receipt_file = tmp_path / "receipt.json"
        receipt_file.write_text(json.dumps(tlog))
        said = verify_receipt.check(verify_receipt.from_json(receipt_file.read_bytes()), vkey)
        assert any(f"to ИНН {INN}" in line and "4\u00a0672,24 \u20bd" in line for line in said)
        assert verify_receipt.main([str(receipt_file), "--log-key", vkey]) == 0
        said = verify_receipt.check(verify_receipt.from_code(receipt_code.code(tlog)), vkey)
        assert said[0].startswith("this payment of 4\u00a0672,24 \u20bd to ИНН")
        assert "succeeded at" in said[1] and said[2].startswith(f"whose size-{tlog['size']} state")
        tlog["entries"][0]["entry"] = base64.b64encode(
            base64.b64decode(tlog["entries"][0]["entry"]).replace(b"467224", b"467225")
        ).decode()
        with pytest.raises(ValueError, match="not in the signed tree"):
            verify_receipt.check(verify_receipt.from_json(json.dumps(tlog).encode()), vkey)
    ledger.close()
