"""A table's shape: its columns, key and indexes, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any


@dataclass(frozen=True)
class Table:
    """A table's columns (name, kind) and key; `Tx.write` upserts whole rows of it."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    journal: bool = False
    """Insert-only: rows are appended, never updated."""
    column_names: tuple[str, ...] = field(init=False)
    values_of: Any = field(init=False, repr=False, compare=False)
    """row dict -> tuple of its values in column order."""
    _key: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(name for name, _ in self.columns)
        object.__setattr__(self, "column_names", names)
        object.__setattr__(self, "values_of", itemgetter(*names))
        getter = itemgetter(*self.key)
        key = getter if len(self.key) > 1 else (lambda row: (getter(row),))
        object.__setattr__(self, "_key", key)

    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return self._key(row)  # type: ignore[no-any-return]
