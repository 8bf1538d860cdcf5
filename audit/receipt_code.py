"""A receipt's compact binary form, for a QR code (read back by docs/verify_receipt.py):

    b"KVR1" ‖ u16 length ‖ signed checkpoint (UTF-8) ‖ u8 entries ‖
    per entry: u64 leaf index ‖ u16 length ‖ entry ‖ u8 proof hashes ‖ 32 bytes each

Integers are big-endian. A QR code holds at most 2,953 bytes (version 40, level L); a phone
reads far smaller ones reliably, so `compact` takes only the entries asked for.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import segno

MAGIC = b"KVR1"


def compact(tlog: dict[str, Any], *, entries: slice = slice(None)) -> bytes:
    note = str(tlog["checkpoint"]).encode()
    chosen = list(tlog["entries"])[entries]
    out = bytearray(MAGIC + struct.pack(">H", len(note)) + note + bytes([len(chosen)]))
    for item in chosen:
        entry = base64.b64decode(item["entry"])
        proof = [base64.b64decode(h) for h in item["proof"]]
        out += struct.pack(">QH", int(item["index"]), len(entry)) + entry
        out += bytes([len(proof)]) + b"".join(proof)
    return bytes(out)


def qr(data: bytes) -> segno.QRCode:
    """The QR code of a compact receipt (byte mode, error correction L: the most it holds)."""
    return segno.make(data, error="l", mode="byte", boost_error=False)
