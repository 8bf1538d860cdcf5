#!/usr/bin/env python3
"""Check a Kvit payment receipt offline, with nothing but this file and the Python standard
library (Ed25519 included), against the log's published key.

    python3 verify_receipt.py RECEIPT --log-key 'ORIGIN+KEYID+BASE64'

RECEIPT is the receipt's `tlog` part as JSON (from `GET /v1/payments/{id}`, `receipt.tlog`)
or its compact binary form (the QR code's bytes). The log key is the line `GET
/v1/audit/key` serves and `kvit audit public-key` prints; get it out of band, once.

What it checks, from the specs alone (RFC 9162 §2.1, C2SP signed-note and tlog-checkpoint):
the checkpoint is signed by that key and names that log; each entry's leaf hash
SHA-256(0x00 ‖ entry) is at its index in the tree whose root the checkpoint signed, by its
inclusion proof. Then it reads the entries (Kvit's event encoding `kvit.event.v1`) and says
what they prove. Exit status 0 when everything verifies, 1 otherwise.

The compact form (all integers big-endian):
    b"KVR1" ‖ u16 length ‖ signed checkpoint (UTF-8) ‖ u8 entries ‖
    per entry: u64 index ‖ u16 length ‖ entry ‖ u8 proof hashes ‖ 32 bytes each
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
from pathlib import Path

MAGIC = b"kvit.event.v1\n"
COMPACT = b"KVR1"


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
def from_compact(data):
    if data[:4] != COMPACT:
        raise ValueError("not a compact Kvit receipt")
    at = 4
    (length,) = struct.unpack_from(">H", data, at)
    checkpoint = data[at + 2 : at + 2 + length].decode()
    at += 2 + length
    count, at = data[at], at + 1
    entries = []
    for _ in range(count):
        index, length = struct.unpack_from(">QH", data, at)
        entry = data[at + 10 : at + 10 + length]
        at += 10 + length
        hashes, at = data[at], at + 1
        proof = [data[at + 32 * i : at + 32 * (i + 1)] for i in range(hashes)]
        at += 32 * hashes
        entries.append({"index": index, "entry": entry, "proof": proof})
    return {"checkpoint": checkpoint, "entries": entries}


def from_json(data):
    found = json.loads(data)
    found = found.get("tlog", found) if isinstance(found, dict) else found
    found = found.get("receipt", {}).get("tlog", found) if "receipt" in found else found
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


def check(receipt, key_text):
    """What the receipt proves, as lines of text; ValueError if it does not verify."""
    key = parse_key(key_text)
    origin, size, root, witnesses = open_checkpoint(receipt["checkpoint"], key)
    said = []
    for e in receipt["entries"]:
        leaf = hashlib.sha256(b"\x00" + e["entry"]).digest()
        if not inclusion_ok(leaf, e["index"], size, e["proof"], root):
            raise ValueError(f"entry {e['index']} is not in the signed tree of size {size}")
        ident, _, topic, stamp, fields = read_entry(e["entry"])
        what = f"{topic} of {ident} at {stamp}"
        if topic == "kvit.payment.created":
            inn = (fields.get("recipient") or {}).get("inn", "?")
            what = f"this payment of {rubles(int(fields['amount']))} to ИНН {inn} ({ident})"
        said.append(f"{what} is entry {e['index']} of log {origin}")
    key_id = key[1].hex()
    signed = f"whose size-{size} state was signed by key {key[0]}+{key_id}"
    if witnesses:
        signed += "; cosigned by " + ", ".join(
            f"{name} at {stamp} (Unix time, unchecked)" for name, stamp in witnesses
        )
    return [*said, signed]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("receipt", type=Path)
    parser.add_argument("--log-key", required=True, help="the log's note verifier key")
    args = parser.parse_args(argv)
    data = args.receipt.read_bytes()
    try:
        receipt = from_compact(data) if data.startswith(COMPACT) else from_json(data)
        lines = check(receipt, args.log_key)
    except (ValueError, KeyError, struct.error, json.JSONDecodeError) as error:
        print(f"NOT VERIFIED: {error}")
        return 1
    print("VERIFIED:")
    for line in lines:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
