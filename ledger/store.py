"""Event-store recorders whose save also proves that what a command read is still current.

A command may decide from aggregates it only reads (the supplier's requisites, the account's
due amount, a bill's state), and may read them from this process's cache without a round trip
(see `aggregate_cache.py`). The store's `(originator_id, version)` key already catches a stale
copy of every aggregate the command writes; for the ones it only reads, the save passes
`expected_versions={id: version}` and the recorder checks them inside the same transaction,
after the table lock, so "nobody else moved them since" holds at commit. A stale read fails
like a stale write: with `IntegrityError`, and the caller evicts and re-runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

ExpectedVersions = Mapping[UUID, int]


class CheckedPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        table = SQL("{}.{}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        # Copy the row that would prove a read stale onto itself: if a newer version exists,
        # the copy violates the primary key and the transaction fails with IntegrityError;
        # if not, nothing is inserted. Unlike a SELECT, this needs no extra round trip: it
        # rides in the same pipeline as the insert, and the library maps its error for us.
        self._check_statement = SQL(
            "INSERT INTO {t} (originator_id, originator_version, topic, state) "
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%s::uuid[], %s::bigint[]) AS r(id, version) "
            "JOIN {t} AS e ON e.originator_id = r.id AND e.originator_version = r.version + 1"
        ).format(t=table)

    def _insert_stored_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> None:
        expected: ExpectedVersions = kwargs.get("expected_versions") or {}
        if not expected:
            super()._insert_stored_events(curs, stored_events, **kwargs)
            return
        # Same order as the library (lock, notify, insert), with the check after the lock.
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self._check_statement, (list(expected), list(expected.values())), prepare=True)
        super(PostgresApplicationRecorder, self)._insert_stored_events(
            curs, stored_events, **kwargs
        )


class CheckedSQLiteRecorder(SQLiteApplicationRecorder):
    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> Sequence[int] | None:
        # Insert first: that takes SQLite's write lock, so the check below sees every commit
        # (and skips the rows this very save inserted).
        ids = super()._insert_events(c, stored_events, **kwargs)
        expected: ExpectedVersions = kwargs.get("expected_versions") or {}
        own = {(e.originator_id, e.originator_version) for e in stored_events}
        for aggregate_id, version in expected.items():
            if (aggregate_id, version + 1) in own:
                continue
            c.execute(
                f"SELECT 1 FROM {self.events_table_name} "
                "WHERE originator_id = ? AND originator_version = ?",
                (aggregate_id.hex, version + 1),
            )
            if c.fetchone() is not None:
                raise IntegrityError(f"aggregate {aggregate_id} moved past version {version}")
        return ids
