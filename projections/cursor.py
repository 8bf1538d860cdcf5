"""Opaque page cursors: the position to continue below, bound to the filters that made it."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from projections.errors import InvalidCursorError

VERSION = 1
MAX_POSITION = 2**63 - 1


def fingerprint(filters: dict[str, Any]) -> str:
    canonical = json.dumps(filters, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode(position: int, filters: dict[str, Any]) -> str:
    payload = json.dumps({"v": VERSION, "p": position, "f": fingerprint(filters)})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode(cursor: str, filters: dict[str, Any]) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position, version, bound = payload["p"], payload["v"], payload["f"]
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidCursorError("the cursor is not one this API issued", cursor=cursor) from error
    # Bounded, because a cursor is client input: anyone can build one (it is not secret, only
    # bound to its filters, which still scope every row it can reach).
    if (
        not isinstance(position, int)
        or isinstance(position, bool)
        or version != VERSION
        or not 0 <= position <= MAX_POSITION
    ):
        raise InvalidCursorError("the cursor is not one this API issued", cursor=cursor)
    if bound != fingerprint(filters):
        raise InvalidCursorError(
            "the cursor was issued for other filters; start again without it", cursor=cursor
        )
    return position
