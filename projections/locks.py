"""The advisory locks that make a `kvit project` runner the one writer of its read models
(PostgreSQL): one session-level lock per read model, keyed by schema and name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from storage.sql import Store, lock_key


def lock_keys(store: Store, names: Iterable[str]) -> dict[str, int]:
    schema = store.schema or "public"
    return {name: lock_key("kvit-projection", schema, name) for name in names}


def take_free(store: Store, names: Iterable[str]) -> tuple[Any, list[str]]:
    """Without waiting, the locks of those read models no runner holds: the connection holding
    them (closing it lets them go) and their names. The others are left to their runner."""
    connection = psycopg.connect(store.target, autocommit=True, connect_timeout=5)
    taken = []
    for name, key in lock_keys(store, names).items():
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
        if row and row[0]:
            taken.append(name)
    return connection, taken
