#!/usr/bin/env python3
"""Check a Kvit payment receipt offline, with nothing but this file and the Python standard
library (Ed25519 included), against the log's published key.

    python3 verify_receipt.py RECEIPT --log-key 'ORIGIN+KEYID+BASE64'

RECEIPT is a file holding the receipt as JSON (`GET /v1/payments/{id}`, or its `receipt.tlog`
part) or its code (the text of its QR code, `KVR2:…`), or `-` to read either from standard
input, or the code itself. The log key is the line `GET /v1/audit/key` serves and
`kvit audit public-key` prints; get it out of band, once.

What it checks, from the specs alone (RFC 9162 §2.1, C2SP signed-note and tlog-checkpoint):
the checkpoint is signed by that key and names that log; each entry's leaf hash
SHA-256(0x00 ‖ entry) is at its index in the tree whose root the checkpoint signed. Then it
reads the entries (Kvit's event encoding `kvit.event.v1`) and says what they prove. Exit
status 0 when everything verifies, 1 otherwise.

The code (docs/auditing.md; integers are unsigned LEB128 varints):
    "KVR2:" ‖ base45(varint size ‖ 4-byte key ID ‖ 64-byte signature ‖ u8 n ‖ varint first
    index ‖ n - 1 varint gaps ‖ u8 h ‖ h 32-byte hashes ‖ raw DEFLATE, preset dictionary
    DICTIONARY, of n × (varint length ‖ entry))
The checkpoint it was cut from is rebuilt: its origin is the key's name, its root comes from
the entries and the hashes (the roots of the largest subtrees holding none of the entries, left
to right), and the signature must verify over "<origin>\n<size>\n<base64 root>\n".
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
import zlib
from pathlib import Path

MAGIC = b"kvit.event.v1\n"
PREFIX = "KVR2:"
MAX_ENTRIES_BYTES = 1 << 16
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
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


# --- Ed25519 signature verification (RFC 8032, section 6; slow but plain) ------------------------
P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x = (a[1] - a[0]) * (b[1] - b[0]) % P
    y = (a[1] + a[0]) * (b[1] + b[0]) % P
    c = 2 * a[3] * b[3] * D % P
    z = 2 * a[2] * b[2] % P
    e, f, g, h = y - x, z - c, z + c, y + x
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(scalar, point):
    result = (0, 1, 1, 0)
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
BASE = (_GX, _GY, 1, _GX * _GY % P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, BASE), _add(r, _mul(h, a)))


# --- the tree (RFC 9162 §2.1.3.2) ------------------------------------------------------------
def _node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_ok(leaf, index, size, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def _split(n):
    return 1 << ((n - 1).bit_length() - 1)  # the largest power of two below n


def multiproof_root(leaves, size, hashes):
    """MTH(D[size]) (§2.1.1) from leaf hashes {index: hash} and the roots of the largest
    subtrees holding none of them, left to right; None if the hashes do not fit the shape."""
    given = list(hashes)

    def mth(start, end):
        if end - start == 1 and start in leaves:
            return leaves[start]
        if not any(start <= i < end for i in leaves):
            return given.pop(0) if given else None
        k = _split(end - start)
        left, right = mth(start, start + k), mth(start + k, end)
        return None if left is None or right is None else _node(left, right)

    if not leaves or min(leaves) < 0 or max(leaves) >= size:
        return None
    found = mth(0, size)
    return None if given else found


# --- signed notes and checkpoints (C2SP) ---------------------------------------------------
def parse_key(text):
    name, key_id, encoded = text.strip().split("+", 2)  # base64 may contain "+"
    raw = base64.b64decode(encoded)
    if len(raw) != 33 or raw[0] != 1:
        raise ValueError("not an Ed25519 note verifier key")
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != key_id:
        raise ValueError("the key's ID does not match its name and key")
    return name, bytes.fromhex(key_id), raw[1:]


def open_checkpoint(text, key):
    """(origin, size, root, witness lines) of a checkpoint signed by `key`, or ValueError."""
    name, key_id, public = key
    cut = text.rfind("\n\n")
    body, lines = text[: cut + 1], text[cut + 2 :].splitlines()
    good, others = False, []
    for line in lines:
        signer, _, encoded = line.removeprefix("\u2014 ").partition(" ")
        blob = base64.b64decode(encoded)
        if signer == name and blob[:4] == key_id:
            good = good or ed25519_verify(public, body.encode(), blob[4:])
        elif len(blob) == 76:
            others.append((signer, struct.unpack(">Q", blob[4:12])[0]))
    if not good:
        raise ValueError(f"the checkpoint is not signed by {name}")
    origin, size, root = body.split("\n")[:3]
    if origin != name:
        raise ValueError(f"the checkpoint is for the log {origin}, not {name}")
    return origin, int(size), base64.b64decode(root), others


# --- receipts ----------------------------------------------------------------------------
def _varint(data, at):
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("the code ends inside a number")
        byte, at = data[at], at + 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def unbase45(text):
    """RFC 9285."""
    try:
        digits = [BASE45.index(c) for c in text]
    except ValueError:
        raise ValueError("the code has a character that base45 does not use") from None
    if len(digits) % 3 == 1:
        raise ValueError("the code's base45 length is not whole")
    out = bytearray()
    for i in range(0, len(digits), 3):
        group = digits[i : i + 3]
        n = sum(d * 45**k for k, d in enumerate(group))
        if n >= (1 << (8 * (len(group) - 1))):
            raise ValueError("the code's base45 is out of range")
        out += n.to_bytes(len(group) - 1, "big")
    return bytes(out)


def from_code(text):
    """The parts of a receipt code (the text of its QR code)."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise ValueError(f"not a Kvit receipt code (it starts with {PREFIX!r})")
    data = unbase45(text[len(PREFIX) :])
    size, at = _varint(data, 0)
    key_id, signature, at = data[at : at + 4], data[at + 4 : at + 68], at + 68
    if len(signature) != 64 or at >= len(data):
        raise ValueError("the code ends inside its signature")
    count, at = data[at], at + 1
    indices = []
    for _ in range(count):
        step, at = _varint(data, at)
        indices.append(indices[-1] + step if indices else step)
    if at >= len(data):
        raise ValueError("the code ends before its proof")
    hashes, at = data[at], at + 1
    proof = [data[at + 32 * i : at + 32 * (i + 1)] for i in range(hashes)]
    at += 32 * hashes
    if any(len(h) != 32 for h in proof):
        raise ValueError("the code ends inside its proof")
    inflate = zlib.decompressobj(-15, zdict=DICTIONARY)
    try:
        packed = inflate.decompress(data[at:], MAX_ENTRIES_BYTES)
    except zlib.error:
        raise ValueError("the code's entries do not inflate") from None
    if not inflate.eof or inflate.unused_data or inflate.unconsumed_tail:
        raise ValueError("the code's entries are cut short or followed by more")
    entries, at = [], 0
    for index in indices:
        length, at = _varint(packed, at)
        entries.append({"index": index, "entry": packed[at : at + length]})
        at += length
    if at != len(packed):
        raise ValueError("the code's entries do not add up")
    return {
        "size": size,
        "key_id": key_id,
        "signature": signature,
        "entries": entries,
        "proof": proof,
    }


def from_json(data):
    found = json.loads(data)
    found = found.get("tlog", found) if isinstance(found, dict) else found
    found = found.get("receipt", {}).get("tlog", found) if "receipt" in found else found
    if found is None:
        raise ValueError("the receipt is not under a signed checkpoint yet")
    return {
        "checkpoint": found["checkpoint"],
        "entries": [
            {
                "index": int(e["index"]),
                "entry": base64.b64decode(e["entry"]),
                "proof": [base64.b64decode(h) for h in e["proof"]],
            }
            for e in found["entries"]
        ],
    }


def read_entry(entry):
    """(id, version, topic, timestamp, fields) of a `kvit.event.v1` entry."""
    if not entry.startswith(MAGIC):
        raise ValueError("not a kvit.event.v1 entry")
    at = len(MAGIC)
    (n,) = struct.unpack_from(">H", entry, at)
    ident = entry[at + 2 : at + 2 + n].decode()
    at += 2 + n
    (version,) = struct.unpack_from(">Q", entry, at)
    at += 8
    (n,) = struct.unpack_from(">H", entry, at)
    topic = entry[at + 2 : at + 2 + n].decode()
    at += 2 + n
    (n,) = struct.unpack_from(">H", entry, at)
    stamp = entry[at + 2 : at + 2 + n].decode()
    at += 2 + n
    (n,) = struct.unpack_from(">I", entry, at)
    return ident, version, topic, stamp, json.loads(entry[at + 4 : at + 4 + n])


def rubles(kopecks):
    whole = f"{kopecks // 100:,}".replace(",", "\u00a0")
    return f"{whole},{kopecks % 100:02d} \u20bd"


def _leaf(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def _signed_tree(receipt, key):
    """(origin, size, witnesses) of the tree the receipt's entries are proven in."""
    name, key_id, public = key
    if "checkpoint" in receipt:
        origin, size, root, witnesses = open_checkpoint(receipt["checkpoint"], key)
        for e in receipt["entries"]:
            if not inclusion_ok(_leaf(e["entry"]), e["index"], size, e["proof"], root):
                raise ValueError(f"entry {e['index']} is not in the signed tree of size {size}")
        return origin, size, witnesses
    size = receipt["size"]
    if receipt["key_id"] != key_id:
        raise ValueError(f"the code is signed by key ID {receipt['key_id'].hex()}, not {name}")
    leaves = {e["index"]: _leaf(e["entry"]) for e in receipt["entries"]}
    root = multiproof_root(leaves, size, receipt["proof"])
    if root is None:
        raise ValueError(f"the proof does not fit entries {sorted(leaves)} of a tree of {size}")
    body = f"{name}\n{size}\n{base64.b64encode(root).decode()}\n"
    if not ed25519_verify(public, body.encode(), receipt["signature"]):
        raise ValueError(f"the entries are not in the size-{size} tree signed by {name}")
    return name, size, []


def what(entry, index, origin):
    ident, _, topic, stamp, fields = read_entry(entry)
    if topic == "kvit.payment.created":
        inn = (fields.get("recipient") or {}).get("inn", "?")
        details = [f"account {fields.get('account_number', '?')}"]
        if fields.get("document_id"):
            details.append(f"ИПД {fields['document_id']}")
        return (
            f"this payment of {rubles(int(fields['amount']))} to ИНН {inn}"
            f" ({', '.join(details)}; payment {ident}, made at {stamp})"
            f" is entry {index} of log {origin}"
        )
    if topic == "kvit.payment.succeeded":
        return f"payment {ident} succeeded at {stamp}: entry {index} of log {origin}"
    return f"{topic} of {ident} at {stamp} is entry {index} of log {origin}"


def check(receipt, key_text):
    """What the receipt proves, as lines of text; ValueError if it does not verify."""
    key = parse_key(key_text)
    origin, size, witnesses = _signed_tree(receipt, key)
    said = [what(e["entry"], e["index"], origin) for e in receipt["entries"]]
    signed = f"whose size-{size} state was signed by key {key[0]}+{key[1].hex()}"
    if witnesses:
        signed += "; cosigned by " + ", ".join(
            f"{name} at {stamp} (Unix time, unchecked)" for name, stamp in witnesses
        )
    return [*said, signed]


def read_receipt(given):
    """The receipt a command line names: a file, `-` (standard input) or the code itself."""
    if given.lstrip().startswith(PREFIX):
        return from_code(given)
    data = sys.stdin.buffer.read() if given == "-" else Path(given).read_bytes()
    if data.lstrip().startswith(PREFIX.encode()):
        return from_code(data.decode("ascii", "replace"))
    return from_json(data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "receipt", help="a file (JSON or the code), - for standard input, or the code"
    )
    parser.add_argument("--log-key", required=True, help="the log's note verifier key")
    args = parser.parse_args(argv)
    try:
        lines = check(read_receipt(args.receipt), args.log_key)
    except (OSError, ValueError, KeyError, TypeError, struct.error) as error:
        print(f"NOT VERIFIED: {error}")
        return 1
    print("VERIFIED:")
    for line in lines:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
