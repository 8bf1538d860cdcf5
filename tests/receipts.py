"""A payment's log entries as Kvit writes them, and a signed tree to put them in: for the
receipt code's tests and its size measurement (bench/receipt_qr.py)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from uuid import UUID, uuid5

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import merkle, multiproof, note, receipt_code
from audit.encoding import canonical
from tests.fixtures import ACCOUNT_NUMBER, DOCUMENT_ID, INN, KPP, REQUISITES

ORIGIN = "kvit.example/log"
PAYMENT_ID = UUID("04b72f7d-1f21-576b-958a-5679649b26d6")
AMOUNT = 467_155


def _state(stamp: str, fields: dict[str, Any]) -> str:
    when = {"_type_": "datetime_iso", "_data_": stamp[:-1] + "+00:00"}
    return json.dumps({"timestamp": when, **fields}, ensure_ascii=False, separators=(",", ":"))


def _uuid(name: str) -> dict[str, str]:
    return {"_type_": "uuid_hex", "_data_": uuid5(PAYMENT_ID, name).hex}


def card_payment(
    stamp: str = "2026-12-07T09:15:02.118204Z", later: str = "2026-12-07T09:15:09.402117Z"
) -> tuple[bytes, bytes]:
    """The entries of a card payment's creation and success (the states as the event store
    library writes them), for a bill and with the payer's e-mail: the larger kind."""
    created = {
        "originator_topic": "kvit.payment",
        "payer_id": "3f2a9c1e-55b1-4d7e-9a0c-1b2c3d4e5f60",
        "account_id": _uuid("account"),
        "supplier_id": _uuid("supplier"),
        "account_number": ACCOUNT_NUMBER,
        "bill_id": _uuid("bill"),
        "document_id": DOCUMENT_ID,
        "amount": AMOUNT,
        "method": "card",
        "wallet_id": None,
        "email": "ivan.petrov@mail.ru",
        "recipient": {"inn": INN, "kpp": KPP, "name": 'ООО "УК Пример"', **REQUISITES},
    }
    supplier, account = (UUID(_uuid(n)["_data_"]) for n in ("supplier", "account"))
    succeeded = {
        "acquirer_ref": "6084331571",
        "postings": [
            {"account": "acquirer:clearing", "amount": AMOUNT},
            {"account": f"payable:{supplier}:{account}", "amount": -AMOUNT},
        ],
    }
    return (
        canonical(PAYMENT_ID, 1, "kvit.payment.created", stamp, _state(stamp, created).encode()),
        canonical(
            PAYMENT_ID, 3, "kvit.payment.succeeded", later, _state(later, succeeded).encode()
        ),
    )


def filler(index: int) -> bytes:
    return canonical(
        uuid5(PAYMENT_ID, str(index)), 1, "kvit.other", "2026-12-07T09:15:00.000000Z", b"{}"
    )


def signed_receipt(
    size: int, placed: dict[int, bytes], key: Ed25519PrivateKey, origin: str = ORIGIN
) -> dict[str, Any]:
    """The JSON receipt (audit/proof.py's `tlog`) of entries placed at these leaf indices of
    a tree of `size` leaves (the others filler), under a checkpoint signed with `key`."""
    tree = merkle.MemoryTree(merkle.leaf_hash(placed.get(i) or filler(i)) for i in range(size))
    body = note.checkpoint_body(origin, size, tree.root())
    return {
        "format": "kvit.receipt.v1",
        "size": size,
        "checkpoint": note.sign_note(body, origin, key),
        "entries": [
            {
                "index": index,
                "entry": base64.b64encode(entry).decode(),
                "proof": [
                    base64.b64encode(h).decode()
                    for h in merkle.inclusion_proof(index, size, tree.perfect)
                ],
            }
            for index, entry in sorted(placed.items())
        ],
    }


def log_key(key: Ed25519PrivateKey, origin: str = ORIGIN) -> str:
    return note.Verifier(origin, note.ED25519, note.raw_public(key)).text()


def code_in_a_tree_of(size: int, placed: dict[int, bytes], key: Ed25519PrivateKey) -> str:
    """A receipt code as a tree of `size` leaves would give it, without building the tree: the
    other subtrees' hashes stand in for their real ones, and the key signs the root they make
    with the entries, exactly as it would sign the real tree's."""
    proof = [
        hashlib.sha256(f"{start}-{end}".encode()).digest()
        for start, end in multiproof.subtrees(list(placed), size)
    ]
    leaves = {index: merkle.leaf_hash(entry) for index, entry in placed.items()}
    body = note.checkpoint_body(ORIGIN, size, multiproof.root(leaves, size, proof))
    signed = note.parse_note(note.sign_note(body, ORIGIN, key)).signatures[0]
    return receipt_code.encode(size, signed.id + signed.blob, placed, proof)
