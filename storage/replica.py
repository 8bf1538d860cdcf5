"""Reads on a standby that still see every acknowledged write (`KVIT_READ_REPLICA_URL`).

A physical standby replays the primary's WAL a little behind it. Before a read goes there, the
primary says how far its WAL is flushed (`pg_current_wal_flush_lsn()`: at or past the commit
record of every write acknowledged so far, whichever process made it), and the read waits until
the standby has replayed that far (`pg_last_wal_replay_lsn()`), polling, for at most the bound
it is given. A server that is not in recovery (the URL's `prefer-standby` found no standby and
took the primary) is current by definition. Replay only moves forward on one server, so a
connection that saw the LSN replayed leaves every later connection to that server seeing it too:
the replica URL should name its standbys in a fixed order (libpq's default), not balance them.
"""

from __future__ import annotations

import time
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row

POLL_SECONDS = 0.005


def flushed_lsn(primary: Application[UUID]) -> str | None:
    """The primary's flushed WAL position (None: the store is not PostgreSQL)."""
    recorder = primary.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        return None
    with recorder.datastore.get_connection() as connection:
        cursor = connection.cursor(row_factory=tuple_row)
        row = cursor.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
        connection.commit()
    return str(row[0]) if row else None


def replayed(replica: Application[UUID], lsn: str, timeout: float) -> bool:
    """Whether the replica's server has replayed the WAL up to `lsn`, waiting at most
    `timeout` seconds for it."""
    recorder = replica.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        return False
    deadline = time.monotonic() + timeout
    with recorder.datastore.get_connection() as connection:
        cursor = connection.cursor(row_factory=tuple_row)
        while True:
            row = cursor.execute(
                "SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= %s::pg_lsn",
                [lsn],
            ).fetchone()
            connection.commit()  # a fresh snapshot next time round
            if row and row[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)
