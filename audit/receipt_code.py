"""A payment's receipt as one line of text for a QR code, checked offline by
docs/verify_receipt.py (which re-implements the reading, standard library only).

    code     "KVR2:" ‖ base45(payload)                 (RFC 9285; the QR's alphanumeric mode)
    payload  varint  M, the size of the signed tree
             4 B     the log key's ID (C2SP signed-note)
             64 B    its Ed25519 signature of "<origin>\\n<M>\\n<base64 root>\\n"
             u8      n, the number of entries
             varint  the first entry's leaf index, then n - 1 varint gaps to the next
             u8      h, the number of proof hashes
             h × 32  the multiproof of those leaves (audit/multiproof.py)
             rest    raw DEFLATE (RFC 1951) with the preset dictionary DICTIONARY of
                     n × (varint length ‖ entry)             (varints: unsigned LEB128)

What is left out is recomputed: the origin is the name of the log key the checker is given
(Kvit names its key after the log), the root comes from the entries and the multiproof, and
the signature over the rebuilt checkpoint body proves both. Witness cosignatures stay in the
JSON receipt. Of a payment's entries the code carries its creation (amount, recipient's ИНН,
personal account, ИПД, time) and its success; DICTIONARY is those entries' usual text, so only
what differs is spelled out. It is part of the format: a new one needs a new prefix.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import segno

from audit import multiproof
from audit.encoding import MAGIC
from audit.note import parse_checkpoint, parse_note

PREFIX = "KVR2:"
PAYMENT_FACTS = ("kvit.payment.created", "kvit.payment.succeeded")
"""The entries of a payment the code carries, when it has them."""
DICTIONARY = (
    '"ПАО СБЕРБАНК" АО "ТБАНК" Банк ВТБ (ПАО) АО "АЛЬФА-БАНК" Банк ГПБ (АО) АО "Россельхозбанк" '
    'ООО "Управляющая компания ТСЖ "ЖСК МУП "ЖКХ АО "Мосэнергосбыт'
    "@mail.ru@yandex.ru@gmail.com@bk.ru@inbox.ru@list.ru@rambler.ru"
    '"acquirer_ref":"sandbox-'
    "kvit.event.v1\n\x00$\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16kvit.payment.confirmed"
    '\x00\x1b2026-01-01T00:00:00.000000Z\x00\x00\x00S{"timestamp":{"_type_":"datetime_iso",'
    '"_data_":"2026-01-01T00:00:00.000000+00:00"}}'
    "kvit.event.v1\n\x00$\x00\x00\x00\x00\x00\x00\x00\x01\x00\x14kvit.payment.created"
    '\x00\x1b2026-01-01T00:00:00.000000Z\x00\x00\x02{"timestamp":{"_type_":"datetime_iso",'
    '"_data_":"2026-01-01T00:00:00.000000+00:00"},"originator_topic":"kvit.payment",'
    '"payer_id":"","account_id":{"_type_":"uuid_hex","_data_":""},"supplier_id":{"_type_":'
    '"uuid_hex","_data_":""},"account_number":"","bill_id":{"_type_":"uuid_hex","_data_":""},'
    '"document_id":"","amount":100,"method":"wallet","wallet_id":null,"email":null,'
    '"method":"card","wallet_id":null,"email":"","recipient":{"inn":"","kpp":"","name":'
    '"ООО \\"УК ","bik":"04","settlement_account":"40702810","correspondent_account":'
    '"30101810","bank_name":"ПАО СБЕРБАНК"}}'
    "kvit.event.v1\n\x00$\x00\x00\x00\x00\x00\x00\x00\x03\x00\x16kvit.payment.succeeded"
    '\x00\x1b2026-01-01T00:00:00.000000Z\x00\x00\x01{"timestamp":{"_type_":"datetime_iso",'
    '"_data_":"2026-01-01T00:00:00.000000+00:00"},"acquirer_ref":null,"postings":[{"account":'
    '"acquirer:clearing","amount":100},{"account":"wallet:","amount":100},{"account":"payable:'
    '","amount":-100}]}'
).encode()
_BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


class ReceiptCodeError(ValueError):
    """A receipt that cannot be coded: none of the entries asked for, checkpoint extension
    lines, no signature of its log, or more entries or hashes than the code counts."""


def code(tlog: dict[str, Any], *, topics: Iterable[str] = PAYMENT_FACTS) -> str:
    """The code of a JSON receipt's entries with these topics (audit/proof.py: `tlog`)."""
    wanted = set(topics)
    chosen = {
        int(item["index"]): base64.b64decode(item["entry"])
        for item in tlog["entries"]
        if topic_of(base64.b64decode(item["entry"])) in wanted
    }
    if not chosen:
        raise ReceiptCodeError(f"the receipt has no entry of {sorted(wanted)}")
    note = parse_note(str(tlog["checkpoint"]))
    checkpoint = parse_checkpoint(note.body)
    if checkpoint.extensions:
        raise ReceiptCodeError("a receipt code has no room for checkpoint extension lines")
    own = [s for s in note.signatures if s.name == checkpoint.origin and len(s.blob) == 64]
    if not own:
        raise ReceiptCodeError("the checkpoint has no Ed25519 signature of its log")
    paths = {
        int(item["index"]): [base64.b64decode(h) for h in item["proof"]]
        for item in tlog["entries"]
        if int(item["index"]) in chosen
    }
    proof = multiproof.from_paths(paths, checkpoint.size)
    return encode(checkpoint.size, own[0].id + own[0].blob, chosen, proof)


def encode(size: int, signature: bytes, entries: dict[int, bytes], proof: list[bytes]) -> str:
    """The code of `entries` (by leaf index) in the tree of `size` whose checkpoint the log
    key signed: `signature` is its key ID and Ed25519 signature (68 bytes)."""
    indices = sorted(entries)
    if not 0 < len(indices) < 256 or len(proof) > 255 or len(signature) != 68:
        raise ReceiptCodeError("a code holds 1 to 255 entries, up to 255 hashes, one signature")
    gaps = [b - a for a, b in pairwise(indices)]
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=DICTIONARY)
    packed = b"".join(varint(len(entries[i])) + entries[i] for i in indices)
    payload = b"".join(
        (
            varint(size),
            signature,
            bytes([len(indices)]),
            *(varint(n) for n in (indices[0], *gaps)),
            bytes([len(proof)]),
            *proof,
            squeeze.compress(packed) + squeeze.flush(),
        )
    )
    return PREFIX + base45(payload)


def qr(text: str) -> segno.QRCode:
    """The QR code of a receipt code: alphanumeric mode, the smallest symbol at error level L,
    with a higher level wherever that symbol has room for it."""
    return segno.make(text, mode="alphanumeric", error="l", boost_error=True)


def topic_of(entry: bytes) -> str | None:
    """The topic of a `kvit.event.v1` entry (audit/encoding.py), None if it is not one."""
    if not entry.startswith(MAGIC):
        return None
    at = len(MAGIC)
    (length,) = struct.unpack_from(">H", entry, at)
    at += 2 + length + 8
    (length,) = struct.unpack_from(">H", entry, at)
    return entry[at + 2 : at + 2 + length].decode("utf-8", "replace")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def base45(data: bytes) -> str:
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] << 8 | data[i + 1]
        out += (_BASE45[n % 45], _BASE45[n // 45 % 45], _BASE45[n // 2025])
    if len(data) % 2:
        out += (_BASE45[data[-1] % 45], _BASE45[data[-1] // 45])
    return "".join(out)
