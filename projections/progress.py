"""The projections' progress notification: which read models reached which log position, and
the keys (`payer_id=…`, `account_id=…`) the batch wrote, for the API's cache (projections/hot.py).

PostgreSQL caps a NOTIFY payload at 8000 bytes, so a batch that wrote more keys than fit says
"everything may have changed" instead (keys `None`), which costs the cache its contents, never
its correctness. Sent inside the batch's transaction, so it is delivered only if it commits,
and in commit order.
"""

from __future__ import annotations

import json
from collections.abc import Collection

MAX_PAYLOAD = 7900


def encode(positions: dict[str, int], keys: Collection[str] | None) -> str:
    listed = sorted(keys) if keys is not None else None
    payload = json.dumps({"positions": positions, "keys": listed})
    if len(payload.encode()) > MAX_PAYLOAD:
        payload = json.dumps({"positions": positions, "keys": None})
    return payload


def decode(payload: str) -> tuple[dict[str, int], list[str] | None]:
    if not payload.startswith("{"):  # "name:position", as older runners sent it
        name, _, position = payload.partition(":")
        return {name: int(position)}, None
    message = json.loads(payload)
    return {k: int(v) for k, v in message["positions"].items()}, message["keys"]
