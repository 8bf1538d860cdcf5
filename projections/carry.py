"""Rows carried from one batch to the next by the only writer of a read model's tables.

A rebuild owns its shadow tables, and a runner owns its projection while it holds the lock, so
what they wrote last is what the database holds: keeping those rows in memory saves loading
them again in the next batch (accounts, wallets, ledger accounts and bills recur all the time).
Bounded: each table keeps at most `limit` rows, least recently used first out. The owner must
`clear()` it whenever a batch fails or the tables change under it (a rebuild swapped in).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

Key = tuple[Any, ...]
RowDict = dict[str, Any]
LIMIT = 20_000


class Carry:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.rows: dict[str, OrderedDict[Key, RowDict]] = {}
        self.groups: dict[tuple[str, str], OrderedDict[Any, set[Key]]] = {}
        """(table, column) -> value -> keys of every row with that value (complete sets)."""

    def clear(self) -> None:
        self.rows.clear()
        self.groups.clear()

    def row(self, table: str, key: Key) -> RowDict | None:
        rows = self.rows.get(table)
        if rows is None or key not in rows:
            return None
        rows.move_to_end(key)
        return dict(rows[key])

    def group(self, table: str, column: str, value: Any) -> list[RowDict] | None:
        """Copies of every row whose `column` is `value`, or None if not known completely."""
        keys = self.groups.get((table, column), {}).get(value)
        if keys is None:
            return None
        rows: dict[Key, RowDict] = self.rows.get(table, {})
        if not keys <= rows.keys():
            self.groups[(table, column)].pop(value, None)
            return None
        self.groups[(table, column)].move_to_end(value)
        return [dict(rows[k]) for k in keys]

    def keep(self, table: str, key: Key, row: RowDict) -> None:
        rows = self.rows.setdefault(table, OrderedDict())
        rows[key] = row
        rows.move_to_end(key)
        if len(rows) > self.limit:
            rows.popitem(last=False)  # a group missing a row is dropped when next asked for

    def keep_group(self, table: str, column: str, value: Any, keys: set[Key]) -> None:
        groups = self.groups.setdefault((table, column), OrderedDict())
        groups[value] = set(keys)
        groups.move_to_end(value)
        if len(groups) > self.limit:
            groups.popitem(last=False)

    def join_group(self, table: str, column: str, value: Any, key: Key) -> None:
        """A row was added with this value: known groups stay complete."""
        keys = self.groups.get((table, column), {}).get(value)
        if keys is not None:
            keys.add(key)
