"""A receipt's code (audit/receipt_code.py): printed as a QR code, read back by a barcode
reader, and checked offline by docs/verify_receipt.py with nothing but the log's key."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from audit import receipt_code
from tests.receipts import card_payment, code_in_a_tree_of, log_key, signed_receipt

ROOT = Path(__file__).resolve().parents[2]


def load_verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_receipt", ROOT / "docs/verify_receipt.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verify_receipt = load_verifier()
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def read_qr(text: str) -> str:
    out = io.BytesIO()
    receipt_code.qr(text).save(out, kind="png", scale=4, border=4)
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(out.getvalue())))
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    return str(found.text)


def test_a_code_read_back_from_its_qr_verifies_offline_and_says_what_it_proves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    created, succeeded = card_payment()
    tlog = signed_receipt(1000, {990: created, 991: b"confirmed", 995: succeeded}, KEY)
    code = receipt_code.code(tlog)

    scanned = read_qr(code)

    assert scanned == code
    assert verify_receipt.main([scanned, "--log-key", log_key(KEY)]) == 0
    said = capsys.readouterr().out
    assert "VERIFIED:" in said and "NOT" not in said
    assert "this payment of 4\u00a0671,55 \u20bd to ИНН 7701234560" in said
    assert "ИПД 70АА000560-01-6103" in said and "is entry 990 of log kvit.example/log" in said
    assert "succeeded at 2026-12-07T09:15:09.402117Z: entry 995" in said
    assert "whose size-1000 state was signed by key kvit.example/log+" in said


def test_a_code_from_a_log_of_a_million_entries_reads_back_and_verifies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    created, succeeded = card_payment()
    code = code_in_a_tree_of(1_000_000, {999_800: created, 999_900: succeeded}, KEY)
    symbol = receipt_code.qr(code)
    assert symbol.mode == "alphanumeric" and int(symbol.version) <= 28

    assert verify_receipt.main([read_qr(code), "--log-key", log_key(KEY)]) == 0
    assert "is entry 999800 of log" in capsys.readouterr().out


def test_the_code_is_read_from_a_file_or_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created, _ = card_payment()
    code = receipt_code.code(signed_receipt(7, {3: created}, KEY))
    scanned = tmp_path / "receipt.txt"
    scanned.write_text(code + "\n")
    assert verify_receipt.main([str(scanned), "--log-key", log_key(KEY)]) == 0
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(code.encode())))
    assert verify_receipt.main(["-", "--log-key", log_key(KEY)]) == 0


def test_any_changed_character_or_another_key_is_not_verified(
    capsys: pytest.CaptureFixture[str],
) -> None:
    created, succeeded = card_payment()
    code = receipt_code.code(signed_receipt(300, {10: created, 200: succeeded}, KEY))
    alphabet = verify_receipt.BASE45
    for at in range(len(receipt_code.PREFIX), len(code), 7):
        other = alphabet[(alphabet.index(code[at]) + 1) % 45]
        changed = code[:at] + other + code[at + 1 :]
        assert verify_receipt.main([changed, "--log-key", log_key(KEY)]) == 1, at
    assert verify_receipt.main([code[:-3], "--log-key", log_key(KEY)]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out
    stranger = Ed25519PrivateKey.generate()
    assert verify_receipt.main([code, "--log-key", log_key(stranger)]) == 1
    assert "not kvit.example/log" in capsys.readouterr().out
    renamed = log_key(KEY, origin="other.example/log")
    assert verify_receipt.main([code, "--log-key", renamed]) == 1


def test_an_entry_moved_to_another_index_is_not_verified() -> None:
    created, _ = card_payment()
    code = receipt_code.code(signed_receipt(64, {5: created}, KEY))
    parts = verify_receipt.from_code(code)
    parts["entries"][0]["index"] = 4
    with pytest.raises(ValueError, match="not in the size-64 tree"):
        verify_receipt.check(parts, log_key(KEY))


def test_the_checker_reads_the_code_as_the_service_writes_it() -> None:
    assert verify_receipt.DICTIONARY == receipt_code.DICTIONARY
    assert verify_receipt.PREFIX == receipt_code.PREFIX
    data = bytes(range(256)) + b"\x00"
    assert verify_receipt.unbase45(receipt_code.base45(data)) == data
    assert receipt_code.base45(b"AB") == "BB8"  # RFC 9285 §4.3
    assert verify_receipt.unbase45("QED8WEX0") == b"ietf!"


def test_a_payment_without_its_success_is_coded_alone() -> None:
    created, _ = card_payment()
    code = receipt_code.code(signed_receipt(2, {0: created, 1: b"confirmed"}, KEY))
    parts = verify_receipt.from_code(code)
    assert [e["index"] for e in parts["entries"]] == [0]
    with pytest.raises(receipt_code.ReceiptCodeError, match="no entry"):
        receipt_code.code(signed_receipt(2, {1: b"confirmed"}, KEY))
