"""The canonical encoding, the chain rule, checkpoint signatures, and the export checker's own
(pure-Python) Ed25519 verifier against the `cryptography` package."""

from __future__ import annotations

import hashlib
import struct
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.encoding import (
    GENESIS,
    UNREADABLE,
    EntryError,
    canonical,
    chain_hash,
    event_hash,
    normalise_iso,
    plain,
    timestamp_of,
)
from audit.signing import make_checkpoint, public_hex, signature_ok, signed_message
from audit.store import ChainRow
from tests.integration.test_audit_tamper import checker

ID = UUID("6f1c1d0e-7a4b-5c53-9d43-4b7669741a01")
STATE = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-05T10:00:00.123456+00:00"}}'


def test_every_spelling_of_an_id_encodes_the_same() -> None:
    spellings = (ID, str(ID), str(ID).upper(), ID.hex, f"{{{ID}}}")
    encoded = {canonical(s, 1, "t", "2026-03-05T10:00:00.123456Z", STATE) for s in spellings}
    assert len(encoded) == 1


def test_a_timestamp_orjson_refuses_is_still_read() -> None:
    state = b'{"amount": NaN, "timestamp": "2026-03-05T10:00:00.123456+00:00"}'
    assert timestamp_of(state) == "2026-03-05T10:00:00.123456Z"
    assert timestamp_of(b"not json") == ""


def test_the_canonical_encoding_is_length_prefixed_and_pinned() -> None:
    encoded = canonical(ID, 3, "kvit.wallet.credited", "2026-03-05T10:00:00.123456Z", STATE)
    assert encoded.startswith(b"kvit.event.v1\n" + struct.pack(">H", 36) + str(ID).encode())
    assert encoded.endswith(struct.pack(">I", len(STATE)) + STATE)
    digest = event_hash(ID.hex, 3, "kvit.wallet.credited", "2026-03-05T10:00:00.123456Z", STATE)
    assert digest == hashlib.sha256(encoded).digest()  # the id's spelling does not matter
    for spelling in (str(ID), str(ID).upper()):  # the export checker's entry is the same bytes
        stamp = "2026-03-05T10:00:00.123456Z"
        assert checker.entry_of(spelling, 3, "kvit.wallet.credited", stamp, STATE) == encoded
    assert chain_hash(GENESIS, digest) == hashlib.sha256(bytes(32) + digest).digest()


def test_every_field_changes_the_hash() -> None:
    base = (ID, 3, "kvit.wallet.credited", "2026-03-05T10:00:00.123456Z", STATE)
    variants = [
        (UUID(int=1), *base[1:]),
        (ID, 4, *base[2:]),
        (ID, 3, "kvit.wallet.debited", *base[3:]),
        (ID, 3, base[2], "2026-03-05T10:00:00.123457Z", STATE),
        (*base[:4], STATE + b" "),
    ]
    hashes = {event_hash(*v) for v in [base, *variants]}  # type: ignore[arg-type]
    assert len(hashes) == 6


def test_timestamps_are_read_from_the_state_in_one_canonical_form() -> None:
    assert timestamp_of(STATE) == "2026-03-05T10:00:00.123456Z"
    assert normalise_iso("2026-03-05T13:00:00+03:00") == "2026-03-05T10:00:00.000000Z"
    assert timestamp_of(b"not json") == ""
    assert plain({"id": {"_type_": "uuid_hex", "_data_": ID.hex}}) == {"id": str(ID)}


def test_a_checkpoint_verifies_with_its_key_only_and_the_stdlib_verifier_agrees() -> None:
    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    head = ChainRow(120, 118, "2026-03-05T10:00:00.000000Z", bytes(32), b"\x01" * 32)
    checkpoint = make_checkpoint(key, head)
    assert signature_ok(checkpoint, public_hex(key))
    assert not signature_ok(checkpoint, public_hex(stranger))
    assert not signature_ok({**checkpoint, "count": 117}, public_hex(key))
    message, signature = signed_message(checkpoint), bytes.fromhex(checkpoint["signature"])
    public = bytes.fromhex(public_hex(key))
    assert checker.signed_message(checkpoint) == message
    assert checker.ed25519_verify(public, message, signature)
    assert not checker.ed25519_verify(public, message + b"x", signature)
    assert not checker.ed25519_verify(bytes.fromhex(public_hex(stranger)), message, signature)
    for n in range(5):
        text = f"message {n}".encode()
        assert checker.ed25519_verify(public, text, key.sign(text))


@pytest.mark.parametrize(
    ("version", "topic", "says"),
    [
        (-1, "t", "version -1 is not an unsigned 64-bit number"),
        (1 << 64, "t", "is not an unsigned 64-bit number"),
        (1, "t" * 65_536, "topic is 65,536 bytes long"),
    ],
)
def test_fields_an_entry_cannot_hold_are_an_entry_error_saying_which(
    version: int, topic: str, says: str
) -> None:
    with pytest.raises(EntryError, match=says):
        canonical(ID, version, topic, "2026-03-05T10:00:00.123456Z", STATE)
    stamp = "2026-03-05T10:00:00.123456Z"
    with pytest.raises((struct.error, ValueError)):  # the checker refuses the same fields
        checker.entry_of(str(ID), version, topic, stamp, STATE)
    assert len(canonical(ID, 1, "t" * 65_535, stamp, STATE)) > 65_535  # the largest that fits


def test_a_timestamp_of_the_right_shape_in_other_letters_is_unreadable_not_a_crash() -> None:
    raw = "２０２６-03-05T10:00:00.123456+00:00"  # 32 characters, "." at 19: the fast path's
    state = b'{"timestamp":"' + raw.encode() + b'"}'
    stamp = timestamp_of(state)
    assert stamp == UNREADABLE or stamp.isascii()
    assert checker.timestamp_of(checker.decode(state)).isascii()
    canonical(ID, 1, "t", stamp, state)  # the entry can be built either way
