"""Webhook signatures: `Kvit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

The timestamp bounds replays of a captured request to the tolerance window; within it, a
replay is harmless anyway because settling an operation twice with the same outcome is a no-op.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

HEADER = "Kvit-Signature"
HEX_64 = re.compile(r"[0-9a-f]{64}")
TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    pass


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(secret: str, header: str | None, body: bytes, *, now: float | None = None) -> None:
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        t = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        raise SignatureError(f"malformed {HEADER} header") from None
    current = time.time() if now is None else now
    if abs(current - t) > TOLERANCE_SECONDS:
        raise SignatureError("signature timestamp is outside the tolerance window")
    if not HEX_64.fullmatch(given) or not hmac.compare_digest(given, _mac(secret, t, body)):
        raise SignatureError("signature does not match")


def _mac(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
