"""What every query does: read one read model's rows, and the position they are as of."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from projections.tables import Table
from projections.tracking import read_positions
from storage.sql import Store, Tx


class Reader(Protocol):
    """What a query of one read model needs: the store, and a wait for its position (a
    `ReadModels`, or as-of queries' scratch store, projections/as_of.py)."""

    store: Store

    def wait_for(
        self, position: int, names: Iterable[str] | None = None, timeout: float | None = None
    ) -> None: ...


def select_rows(
    tx: Tx, table: Table, where: str, params: Sequence[Any], tail: str = ""
) -> list[dict[str, Any]]:
    names = table.column_names
    statement = (
        f"SELECT {', '.join(names)} FROM {tx.store.name('rm_' + table.name)} WHERE {where}{tail}"
    )
    return [dict(zip(names, row, strict=True)) for row in tx.execute(statement, params)]


def position_of(tx: Tx, name: str) -> int:
    return read_positions(tx, [name])[name]
