"""The write side's door to the event store library: everything Kvit does below the library's
public API, in one module, pinned by tests/unit/test_event_store_library.py.

- The recorders (named by `ledger/engine/persistence.py`'s APPLICATION_RECORDER_TOPIC) whose
  save also proves that what a command read is still current. A command may decide from
  aggregates it only reads (the supplier's requisites, the account's due amount, a bill's
  state), and may read them from its process's cache without a round trip. The store's
  `(originator_id, version)` key already catches a stale copy of every aggregate the command
  writes; for the ones it only reads, the save passes `expected_versions={id: version}` and the
  recorder checks them inside the same transaction, after the table lock, so "nobody else moved
  them since" holds at commit. A stale read fails like a stale write: with `IntegrityError`,
  and the caller evicts and re-runs.
- `record_events`: the library's save of bare events, through its private `_record`/`_notify`.
- `record_stored`: the save of events already in their stored form (storage/encode.py).
- `set_pending_events`: an aggregate's pending events put back after a rolled-back command.
- `events_by_aggregate`: every event of many aggregates in one query (a batch's re-run).
- `moved_since`: which of many aggregates have moved past the versions read, in one query
  (a bulk import that wrote nothing still proves what its rejections read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    InterfaceError,
    OperationalError,
    Recording,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg import Cursor, Error
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from storage.faults import UnconfirmedWriteError
from storage.server_watch import ServerWatch
from storage.sql import SQLITE_IN_CHUNK

ExpectedVersions = Mapping[UUID, int]

# A commit waits for a synchronous standby to flush it only while both hold (a session may
# turn `synchronous_commit` down; pg_auto_failover empties the standby names while none is
# attached). `remote_write` is not enough: the standby has not flushed what it acknowledged.
SYNC_IN_FORCE = (
    "current_setting('synchronous_commit') IN ('on', 'remote_apply')"
    " AND current_setting('synchronous_standby_names') <> ''"
)
NO_SYNC_STANDBY = "KV503"  # our own SQLSTATE, raised only by the check below


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

        self._insert_arrays_statement = SQL(
            "INSERT INTO {t} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(t=table)
        # A bulk import's rows by COPY (binary): no statement to parse, no arrays to build
        # and unnest; the position is then the highest id, read under the table lock.
        self._copy_statement = SQL(
            "COPY {t} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
        ).format(t=table)
        self._last_position_statement = SQL("SELECT max(notification_id) AS last FROM {t}").format(
            t=table
        )
        self._begin, self._commit = SQL("BEGIN"), SQL("COMMIT")
        self.require_sync_standby = False
        """Acknowledge a write only once a synchronous standby has it (set by the factory)."""
        self._refuse_unless_sync = SQL(
            "DO $$BEGIN IF NOT (" + SYNC_IN_FORCE + ") THEN RAISE EXCEPTION USING"
            " ERRCODE = '" + NO_SYNC_STANDBY + "', MESSAGE = 'no synchronous standby';"
            " END IF; END$$"
        )
        self._sync_in_force = SQL("SELECT " + SYNC_IN_FORCE + " AS in_force")
        self._take_xid = SQL("SELECT pg_current_xact_id()")
        self.server_watch: ServerWatch | None = None
        """Set by the factory: which server the pool's connections reach."""
        self._select_many_statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {t} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(t=table)
        self._select_moved_statement = SQL(
            "SELECT r.id FROM unnest(%s::uuid[], %s::bigint[]) AS r(id, version) "
            "JOIN {t} AS e ON e.originator_id = r.id AND e.originator_version = r.version + 1"
        ).format(t=table)

    def select_moved(self, versions: ExpectedVersions) -> set[UUID]:
        """Which of these aggregates have an event past the version given (one query)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._select_moved_statement,
                (list(versions), list(versions.values())),
                prepare=True,
            )
            return {row["id"] for row in curs.fetchall()}

    def select_events_of(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of these aggregates, in one query (see `events_by_aggregate`)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_many_statement, (list(ids),), prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The whole transaction in ONE round trip: BEGIN, lock, notify, checks, insert and
        COMMIT go down one pipeline with a single sync. (The library's version waits for the
        server three times: after BEGIN, after the insert, after COMMIT; writers serialise on
        the table lock, so every wait under it is throughput lost.)"""
        if not stored_events:
            return None
        with self.datastore.get_connection() as conn:
            assert conn.autocommit
            self._same_server(kwargs.get("server_generation"))
            with _rolled_back_on_failure(conn), conn.pipeline() as pipeline:
                conn.execute(self._begin, prepare=True)
                with conn.cursor() as curs:
                    self._insert_checked(curs, stored_events, **kwargs)
                    conn.execute(self._commit, prepare=True)
                    confirmed = self._after_commit(conn)
                    pipeline.sync()
                    ids = [row["notification_id"] for row in curs.fetchall()]
                    self._confirmed(confirmed)
        return ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def copy_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> int:
        """`insert_events` for a bulk import, by COPY: the same transaction (lock, notify,
        checks, rows in the order given, commit), and the highest position written. COPY
        cannot ride a pipeline, so the lock is held over three round trips instead of one:
        a few hundred microseconds per batch of thousands of events."""
        assert stored_events
        with self.datastore.get_connection() as conn:
            assert conn.autocommit
            self._same_server(kwargs.get("server_generation"))
            with _rolled_back_on_failure(conn), conn.cursor() as curs:
                with conn.pipeline():
                    conn.execute(self._begin, prepare=True)
                    self._lock_and_check(curs, **kwargs)
                with curs.copy(self._copy_statement) as copy:
                    copy.set_types(["uuid", "int8", "text", "bytea"])
                    for e in stored_events:
                        copy.write_row((e.originator_id, e.originator_version, e.topic, e.state))
                with conn.pipeline() as pipeline:
                    curs.execute(self._last_position_statement, prepare=True)
                    conn.execute(self._commit, prepare=True)
                    confirmed = self._after_commit(conn)
                    pipeline.sync()
                    row = curs.fetchone()
                    self._confirmed(confirmed)
        assert row is not None
        last: int = row["last"]
        return last

    def _same_server(self, generation: int | None) -> None:
        """A command that read its aggregates before the server changed (a failover) may hold
        versions the new server never had: its save fails like a stale read, and the caller
        re-runs it on what the store has. (Checked once the connection is taken: a new one
        has already said which server it reached.)"""
        watch = self.server_watch
        if generation is not None and watch is not None and watch.generation != generation:
            raise IntegrityError("the database server changed since the command read its state")

    def _after_commit(self, conn: Any) -> Cursor[DictRow] | None:
        """Whether synchronous replication was still in force once the commit returned (a
        reload that turned it off reaches this session before its next statement)."""
        if not self.require_sync_standby:
            return None
        check: Cursor[DictRow] = conn.cursor()
        check.execute(self._sync_in_force, prepare=True)
        return check

    def _confirmed(self, check: Cursor[DictRow] | None) -> None:
        if check is None:
            return
        row = check.fetchone()
        if not (row and row["in_force"]):
            raise UnconfirmedWriteError(
                "synchronous replication was turned off while the write committed: no standby"
                " confirmed it",
                committed=True,
            )

    def confirm_replicated(self) -> None:
        """Before a replay is answered: everything committed so far is on a synchronous
        standby. A transaction that takes an xid writes a commit record, and its commit waits
        until the standby has flushed the WAL up to it, which holds every earlier commit."""
        if not self.require_sync_standby:
            return
        with self.datastore.get_connection() as conn, conn.pipeline() as pipeline:
            conn.execute(self._begin, prepare=True)
            conn.execute(self._take_xid, prepare=True)
            conn.execute(self._commit, prepare=True)
            confirmed = self._after_commit(conn)
            pipeline.sync()
            self._confirmed(confirmed)

    def _insert_checked(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> None:
        self._lock_and_check(curs, **kwargs)
        # Four plain arrays in binary instead of one array of a composite type, which psycopg
        # dumps as text field by field (15 % of a large batch's time in the profile).
        curs.execute(
            self._insert_arrays_statement,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
            prepare=True,
            binary=True,
        )

    def _lock_and_check(self, curs: Cursor[DictRow], **kwargs: Any) -> None:
        # Same order as the library (lock, notify, insert), with the check after the lock.
        self._lock_table(curs)
        if self.require_sync_standby:  # refused here, nothing is written
            curs.execute(self._refuse_unless_sync)
        self._notify_channel(curs)
        expected: ExpectedVersions = kwargs.get("expected_versions") or {}
        if expected:
            curs.execute(
                self._check_statement, (list(expected), list(expected.values())), prepare=True
            )


@contextmanager
def _rolled_back_on_failure(conn: Any) -> Iterator[None]:
    """A write's transaction on failure: rolled back if still open, and the standby check's
    own SQLSTATE told as a write refused (nothing committed)."""
    try:
        yield
    except BaseException as error:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.rollback()
        if isinstance(error, Error) and error.sqlstate == NO_SYNC_STANDBY:
            raise UnconfirmedWriteError(
                "no synchronous standby is attached: the write was refused", committed=False
            ) from error
        raise


class CheckedSQLiteRecorder(SQLiteApplicationRecorder):
    def select_events_of(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        found: list[StoredEvent] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), SQLITE_IN_CHUNK):
                chunk = [i.hex for i in ids[start : start + SQLITE_IN_CHUNK]]
                marks = ",".join("?" * len(chunk))
                c.execute(
                    f"SELECT originator_id, originator_version, topic, state "
                    f"FROM {self.events_table_name} WHERE originator_id IN ({marks}) "
                    "ORDER BY originator_id, originator_version",
                    chunk,
                )
                found.extend(
                    StoredEvent(
                        originator_id=self.convert_originator_id(row["originator_id"]),
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=row["state"],
                    )
                    for row in c.fetchall()
                )
        return found

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


# --- what the ledger asks below the library's public API: one function each ------------------


def record_events(
    app: Application[UUID], events: Sequence[Any], kwargs: dict[str, Any]
) -> list[Recording[UUID]]:
    """The library's `save` for bare events, minus its runtime `Protocol` check on every
    object (an eighth of a large batch's CPU in the profile): record, then notify."""
    processing: ProcessingEvent[UUID] = ProcessingEvent()
    processing.events.extend(events)
    processing.saved_kwargs.update(kwargs)
    recordings = app._record(processing)
    app._notify(recordings)
    app.notify(processing.events)  # deprecated hook, kept for parity with the library
    return recordings


def record_stored(
    store: EventStore[UUID], stored_events: Sequence[StoredEvent], kwargs: dict[str, Any]
) -> list[int]:
    """`record_events` for events already encoded (storage/encode.py): the recorder's insert,
    with the same checks, and the positions written (on PostgreSQL, by COPY: the highest
    only). (The library's `_notify` hooks, which
    `record_events` calls, do nothing in Kvit and would want the event objects.)"""
    recorder = store.recorder
    if isinstance(recorder, CheckedPostgresRecorder):
        return [recorder.copy_events(stored_events, **kwargs)]
    return list(recorder.insert_events(stored_events, **kwargs) or [])


def confirm_replicated(app: Application[UUID]) -> None:
    """Raise `UnconfirmedWriteError` unless every commit so far is on a synchronous standby
    (only when the recorder requires one; see `CheckedPostgresRecorder.confirm_replicated`)."""
    recorder = app.recorder
    if isinstance(recorder, CheckedPostgresRecorder):
        recorder.confirm_replicated()


def server_generation(store: EventStore[UUID]) -> int | None:
    """The generation of the server the store's connections reach (None: no such watch)."""
    watch = getattr(store.recorder, "server_watch", None)
    return watch.generation if isinstance(watch, ServerWatch) else None


def on_server_change(app: Application[UUID], callback: Callable[[], None]) -> None:
    """Call `callback` whenever the store's connections reach another server."""
    watch = getattr(app.recorder, "server_watch", None)
    if isinstance(watch, ServerWatch):
        watch.on_change(callback)


def set_pending_events(aggregate: Aggregate, events: list[Any]) -> None:
    """Make these the aggregate's events to save (the library offers only appending)."""
    aggregate._pending_events = events


def moved_since(store: EventStore[UUID], versions: ExpectedVersions) -> set[UUID]:
    """The aggregates among `versions` that have moved past the version given: one query on
    PostgreSQL, one read per aggregate elsewhere."""
    if not versions:
        return set()
    recorder = store.recorder
    if isinstance(recorder, CheckedPostgresRecorder):
        return recorder.select_moved(versions)
    return {
        aggregate_id
        for aggregate_id, version in versions.items()
        if recorder.select_events(aggregate_id, gt=version, limit=1)
    }


def events_by_aggregate(store: EventStore[UUID], ids: Sequence[UUID]) -> list[Any]:
    """Every event of these aggregates, decoded, each aggregate's in version order: one query
    on PostgreSQL, one per chunk of ids on SQLite, one read per id in memory."""
    recorder = store.recorder
    if isinstance(recorder, CheckedPostgresRecorder | CheckedSQLiteRecorder):
        stored = recorder.select_events_of(ids)
    else:
        stored = [s for i in ids for s in recorder.select_events(i)]
    to_domain_event = store.mapper.to_domain_event
    return [to_domain_event(item) for item in stored]
