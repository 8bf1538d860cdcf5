"""A stuck read model: one that cannot apply an event of the log, and stopped just before it.

An event a model's handler cannot apply (a NUL in a text field, which PostgreSQL refuses; a
bug) fails the same way each time, so retrying it forever only hides it. The projector finds
the event (projections/projector.py), applies everything before it, and records the model here:
where it stopped, the event, and the error. The model is never moved past the event — a money
view that silently left one out would be wrong — and the other read models, which have their
own tables and positions, go on. `/readyz`, `/metrics` and `kvit projections status` read
this table; a runner that applies the event after all (a fixed version) removes the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.sql import Tx, missing_table

STUCK = "rm_stuck"
DETAIL_LENGTH = 500


@dataclass(frozen=True)
class Stuck:
    projection: str
    position: int
    """Where the model stopped: it has applied the log up to here."""
    event: int
    """The position of the event it cannot apply (the next one of its own)."""
    topic: str
    originator_id: str
    error: str
    """The kind of error (its class name): safe to show anyone."""
    detail: str
    """The error's message, for the operator's log and status (not for public endpoints)."""

    def public(self) -> dict[str, Any]:
        """What `/readyz` shows: where, which event, what kind of error."""
        return {
            "position": self.position,
            "event": self.event,
            "topic": self.topic,
            "error": self.error,
        }


def printable(text: str) -> str:
    """An error's message as text every store and terminal takes: a NUL or another control
    character in it (an exception that quotes the bad value) is written as an escape."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)[:DETAIL_LENGTH]


def create_table(tx: Tx) -> None:
    integer = "BIGINT" if tx.postgres else "INTEGER"
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {tx.store.name(STUCK)} (projection TEXT PRIMARY KEY,"
        f" position {integer} NOT NULL, event {integer} NOT NULL, topic TEXT NOT NULL,"
        " originator_id TEXT NOT NULL, error TEXT NOT NULL, detail TEXT NOT NULL)"
    )


_COLUMNS = ("projection", "position", "event", "topic", "originator_id", "error", "detail")


def record(tx: Tx, stuck: Stuck) -> None:
    values = [getattr(stuck, column) for column in _COLUMNS]
    updates = ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS[1:])
    tx.execute(
        f"INSERT INTO {tx.store.name(STUCK)} ({', '.join(_COLUMNS)})"
        f" VALUES ({', '.join('%s' for _ in _COLUMNS)})"
        f" ON CONFLICT (projection) DO UPDATE SET {updates}",
        values,
    )


def clear(tx: Tx, name: str) -> None:
    tx.execute(f"DELETE FROM {tx.store.name(STUCK)} WHERE projection = %s", [name])


def read_stuck(tx: Tx) -> dict[str, Stuck]:
    """Every stuck read model by name; none if the table is missing (not migrated yet)."""
    try:
        rows = tx.execute(f"SELECT {', '.join(_COLUMNS)} FROM {tx.store.name(STUCK)}")
    except Exception as error:
        if missing_table(error):
            return {}
        raise
    return {row[0]: Stuck(*row) for row in rows}
