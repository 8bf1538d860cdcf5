"""Deterministic aggregate ids from natural keys.

A duplicate create then collides on the event store's primary key inside the same transaction,
which is what makes concurrent retries produce exactly one effect.
"""

from __future__ import annotations

import json
from functools import lru_cache
from uuid import UUID, uuid5

KVIT_NAMESPACE = UUID("6f1c1d0e-7a4b-5c53-9d43-4b7669741a01")


@lru_cache(maxsize=65_536)  # a command derives the same ids several times (key, record, payment)
def natural_id(kind: str, *parts: str) -> UUID:
    # JSON, not "/".join: ("a", "b/c") and ("a/b", "c") must not name the same thing.
    return uuid5(KVIT_NAMESPACE, json.dumps([kind, *parts], ensure_ascii=False))
