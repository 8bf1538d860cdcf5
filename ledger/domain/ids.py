"""Deterministic aggregate ids from natural keys.

A duplicate create then collides on the event store's primary key inside the same transaction,
which is what makes concurrent retries produce exactly one effect.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from uuid import UUID, uuid5

KVIT_NAMESPACE = UUID("6f1c1d0e-7a4b-5c53-9d43-4b7669741a01")
_ESCAPED = re.compile(r'[\x00-\x1f"\\]')  # what json.dumps(ensure_ascii=False) escapes


@lru_cache(maxsize=65_536)  # a command derives the same ids several times (key, record, payment)
def natural_id(kind: str, *parts: str) -> UUID:
    # JSON, not "/".join: ("a", "b/c") and ("a/b", "c") must not name the same thing.
    return uuid5(KVIT_NAMESPACE, key_text(kind, *parts))


def key_text(*items: str) -> str:
    """`json.dumps(list(items), ensure_ascii=False)`, the text every id ever made was hashed
    from; written out directly when nothing needs escaping (a register's every line derives
    a new id: json's encoder was half of it)."""
    if all(type(i) is str and not _ESCAPED.search(i) for i in items):
        return '["' + '", "'.join(items) + '"]'
    return json.dumps(list(items), ensure_ascii=False)
