"""Which followers of the log are alive, for `/readyz` and `/metrics` (PostgreSQL).

Each `kvit project` runner (one row per read model it applies) and each `kvit audit follow`
beats a row of `rm_followers` in the read models' database about once a second, from its work
loop, so a follower that hangs falls silent as surely as one that died. The time is the
server's (`now()`), so no process's clock matters. A follower silent for longer than
`KVIT_READ_FOLLOWER_SILENCE_SECONDS` is down, since its last beat.

A follower stopped on purpose (SIGTERM, SIGINT) removes its rows: it is no longer expected.
One that died (SIGKILL, a crash, an exit on an error it could not cure) leaves them, and is
reported until it comes back. A standby runner (waiting for another's locks) does not beat:
the runner that applies the model does. Embedded mode runs its followers inside `kvit serve`:
there are no rows.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from storage.sql import Store, Tx, missing_table

FOLLOWERS = "rm_followers"
BEAT_SECONDS = 1.0
AUDIT = "audit"


def projection(name: str) -> str:
    """The follower row of the runner that applies read model `name`."""
    return f"project:{name}"


@dataclass(frozen=True)
class Follower:
    name: str
    host: str
    pid: int
    started_at: str
    seen_at: str
    """The last beat (ISO 8601, the database server's clock)."""
    silent_seconds: float

    def public(self) -> dict[str, Any]:
        """What `/readyz` shows (it is public): when, not where (no host, no pid)."""
        return {
            "started_at": self.started_at,
            "seen_at": self.seen_at,
            "silent_seconds": round(self.silent_seconds, 1),
        }


def create_table(tx: Tx) -> None:
    time_type = "TIMESTAMPTZ" if tx.postgres else "TEXT"
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {tx.store.name(FOLLOWERS)} (name TEXT PRIMARY KEY,"
        f" host TEXT NOT NULL, pid INTEGER NOT NULL, started_at {time_type} NOT NULL,"
        f" seen_at {time_type} NOT NULL)"
    )


def read_followers(store: Store) -> list[Follower]:
    """Every follower that has beaten (none in embedded mode, or before `kvit migrate`)."""
    if not store.postgres:
        return []
    with store.read() as tx:
        try:
            rows = tx.execute(
                "SELECT name, host, pid, started_at, seen_at,"
                " extract(epoch FROM clock_timestamp() - seen_at)::float8"
                f" FROM {store.name(FOLLOWERS)} ORDER BY name"
            )
        except Exception as error:
            if missing_table(error):
                return []
            raise
    return [
        Follower(name, host, pid, started.isoformat(), seen.isoformat(), silent)
        for name, host, pid, started, seen, silent in rows
    ]


class Heartbeat:
    """One follower process's beats, on a connection of its own or one it is lent (the
    projection runner's lock connection), to the read models' database."""

    def __init__(self, store: Store, names: list[str]) -> None:
        self.store = store
        self.names = names
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._last = -BEAT_SECONDS
        self._own: Any = None

    def beat(self, connection: Any = None, *, now: bool = False) -> None:
        """Upsert this follower's rows, at most once a `BEAT_SECONDS` unless `now`. A failure
        (a lost connection) propagates to the follower's own reconnect logic."""
        if not self.store.postgres or (not now and time.monotonic() - self._last < BEAT_SECONDS):
            return
        table = self.store.name(FOLLOWERS)
        self._execute(
            connection,
            f"INSERT INTO {table} AS f (name, host, pid, started_at, seen_at)"
            " SELECT name, %s, %s, now(), now() FROM unnest(%s::text[]) AS name"
            " ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
            " seen_at = excluded.seen_at, started_at = CASE WHEN f.host = excluded.host"
            " AND f.pid = excluded.pid THEN f.started_at ELSE excluded.started_at END",
            [self.host, self.pid, self.names],
        )
        self._last = time.monotonic()

    def forget(self, connection: Any = None) -> None:
        """Stopped on purpose: no longer expected (only rows this process wrote)."""
        if not self.store.postgres:
            return
        self._execute(
            connection,
            f"DELETE FROM {self.store.name(FOLLOWERS)}"
            " WHERE name = ANY(%s) AND host = %s AND pid = %s",
            [self.names, self.host, self.pid],
        )

    def _execute(self, connection: Any, statement: str, params: list[Any]) -> None:
        if connection is None:
            if self._own is None:
                self._own = self.store.connect(autocommit=True)
            connection = self._own
        try:
            connection.execute(statement, params)
        except Exception:
            self.close()  # the next beat starts on a new connection
            raise

    def close(self) -> None:
        if self._own is not None:
            own, self._own = self._own, None
            own.close()
