"""Staged rows: the rows one read-model transaction reads and writes while it applies a chunk
of the log (a "batch" is the write side's: many commands in one transaction).

Rows are loaded once per chunk (by key, or by an indexed column), changed in memory by the
read models, and written back at the end with one bulk upsert per table. That is what makes
catch-up and rebuild fast; a chunk of one event is the live case.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from projections.carry import Carry
from projections.tables import Table
from storage.sql import Tx

Key = tuple[Any, ...]
RowDict = dict[str, Any]
TOUCH_COLUMNS = ("payer_id", "account_id")
"""Columns whose values name what a written row is about; the API's cached answers depend on
them (see projections/hot.py). Rows are written whole and never change these values."""


class MissingRowError(RuntimeError):
    """An event refers to a row its read model never created: the log or the view is damaged."""


class StagedRows:
    def __init__(
        self, tx: Tx, prefix: str, carry: Carry | None = None, touched: set[str] | None = None
    ) -> None:
        self.tx = tx
        self.prefix = prefix
        self.carry = carry
        self.touched = touched
        """When given, `flush` adds a `column=value` key for every TOUCH_COLUMNS value written."""
        self.scratch: dict[str, Any] = {}
        self._tables: dict[str, Table] = {}
        self._rows: dict[str, dict[Key, RowDict | None]] = {}
        self._dirty: dict[str, set[Key]] = {}
        self._appended: dict[str, list[tuple[Any, ...]]] = {}
        self._loaded: set[tuple[str, str, Any]] = set()
        self._absent: dict[str, set[Key]] = {}
        """Keys known to have no row in the database (looked up, or promised new): their
        rows are inserted, not merged."""

    def load(self, table: Table, values: Iterable[Any], column: str | None = None) -> None:
        """Stage every row of `table` whose `column` (default: the key) is in
        `values`. Rows already staged are kept as they are (they may be changed)."""
        column = column or table.key[0]
        self._tables[table.name] = table
        wanted = [
            v for v in set(values) if v is not None and (table.name, column, v) not in self._loaded
        ]
        cache = self._rows.setdefault(table.name, {})
        by_key = table.key == (column,)
        if self.carry is not None:
            wanted = self._from_carry(table, column, wanted, cache, by_key)
        if not wanted:
            return
        names = table.column_names
        found_by_value: dict[Any, set[Key]] = {v: set() for v in wanted}
        for row in self.tx.fetch(self.prefix + table.name, names, column, wanted):
            found = dict(zip(names, row, strict=True))
            key = table.key_of(found)
            found_by_value[found[column]].add(key)
            if self.carry is not None:
                self.carry.keep(table.name, key, dict(found))
            if cache.get(key) is None:
                cache[key] = found
        if by_key:
            absent = self._absent.setdefault(table.name, set())
            for value in wanted:
                if cache.setdefault((value,), None) is None:
                    absent.add((value,))
        elif self.carry is not None:
            for value, keys in found_by_value.items():
                self.carry.keep_group(table.name, column, value, keys)
        self._loaded.update((table.name, column, v) for v in wanted)

    def _from_carry(
        self,
        table: Table,
        column: str,
        wanted: list[Any],
        cache: dict[Key, RowDict | None],
        by_key: bool,
    ) -> list[Any]:
        """Take what the carry knows; return the values still to query."""
        assert self.carry is not None
        missing = []
        for value in wanted:
            if by_key:
                row = self.carry.row(table.name, (value,))
                rows = None if row is None else [row]
            else:
                rows = self.carry.group(table.name, column, value)
            if rows is None:
                missing.append(value)
                continue
            for row in rows:
                key = table.key_of(row)
                if cache.get(key) is None:
                    cache[key] = row
            self._loaded.add((table.name, column, value))
        return missing

    def assume_new(self, table: Table, values: Iterable[Any], column: str | None = None) -> None:
        """Record, without a query, that no row of `table` has `column` in `values` yet: the
        caller knows they are created by this chunk's events (a rebuild's common case)."""
        column = column or table.key[0]
        cache = self._rows.setdefault(table.name, {})
        absent = self._absent.setdefault(table.name, set())
        for value in values:
            self._loaded.add((table.name, column, value))
            if table.key == (column,):
                if cache.setdefault((value,), None) is None:
                    absent.add((value,))
            elif self.carry is not None:
                self.carry.keep_group(table.name, column, value, set())

    def get(self, table: Table, *key: Any) -> RowDict | None:
        """The row with this key, or None. Single-column keys load on a miss."""
        cache = self._rows.setdefault(table.name, {})
        if key not in cache and len(table.key) == 1:
            self.load(table, key)
        return cache.get(key)

    def need(self, table: Table, *key: Any) -> RowDict:
        row = self.get(table, *key)
        if row is None:
            raise MissingRowError(f"no {table.name} row {key}")
        return row

    def put(self, table: Table, row: RowDict) -> RowDict:
        """Add or replace a row; it is written when the staged rows are flushed."""
        name = table.name
        if name not in self._dirty:
            self._tables[name] = table
            self._dirty[name] = set()
            self._rows.setdefault(name, {})
        key = table.key_of(row)
        self._rows[name][key] = row
        self._dirty[name].add(key)
        return row

    def append(self, table: Table, row: RowDict) -> None:
        self._tables[table.name] = table
        self._appended.setdefault(table.name, []).append(table.values_of(row))

    def cached(self, table: Table) -> Iterator[RowDict]:
        return (row for row in self._rows.get(table.name, {}).values() if row is not None)

    def flush(self) -> int:
        """Write every changed row and every journal row; return how many rows were written."""
        written = 0
        for name, keys in self._dirty.items():
            table, cache = self._tables[name], self._rows[name]
            values_of = table.values_of
            changed = [row for k in keys if (row := cache[k]) is not None]  # all, in fact
            if self.carry is not None:
                self._carry_written(table, changed)
            new: list[tuple[Any, ...]] = []
            rows: list[tuple[Any, ...]] = []
            absent, key_of = self._absent.get(name, ()), table.key_of
            for row in changed:
                (new if key_of(row) in absent else rows).append(values_of(row))
            for part, is_new in ((new, True), (rows, False)):
                self._touch(table, part)
                self.tx.write(self.prefix, table, part, new=is_new)
                written += len(part)
        for name, rows in self._appended.items():
            self._touch(self._tables[name], rows)
            self.tx.write(self.prefix, self._tables[name], rows)
            written += len(rows)
        self._dirty.clear()
        self._appended.clear()
        self._absent.clear()  # written now
        return written

    def _touch(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        if self.touched is None:
            return
        names = table.column_names
        for column in TOUCH_COLUMNS:
            if column in names:
                at = names.index(column)
                self.touched.update(f"{column}={row[at]}" for row in rows)

    def _carry_written(self, table: Table, rows: list[RowDict]) -> None:
        """What is written is what the database will hold once this transaction commits."""
        assert self.carry is not None
        grouped = [c for (t, c) in self.carry.groups if t == table.name]
        for row in rows:
            key = table.key_of(row)
            self.carry.keep(table.name, key, row)
            for column in grouped:
                self.carry.join_group(table.name, column, row[column], key)
