"""One small SQL store over SQLite and PostgreSQL: the read models, the audit tables, the mail
outbox and the link attempts all go through it.

SQL is written once with `%s` placeholders and standard `ON CONFLICT` upserts, which both
databases accept; the differences (placeholders, bulk loads, key look-ups, identifiers,
connections and transactions) live here. Bulk writes on PostgreSQL go through COPY, which is
what lets a rebuild keep up with the notification log. Each context keeps its own tables and
queries.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from storage.table import Table

Row = tuple[Any, ...]
COPY_THRESHOLD = 64
SQLITE_IN_CHUNK = 500  # ids per `IN (...)`: well under SQLite's limit on bound parameters


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit key for a PostgreSQL advisory lock."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def missing_table(error: Exception) -> bool:
    """True if `error` says a table does not exist (on either database)."""
    if isinstance(error, psycopg.errors.UndefinedTable):
        return True
    return isinstance(error, sqlite3.OperationalError) and "no such table" in str(error)


def transient(error: Exception) -> bool:
    """True if `error` is a fault of the connection or the server (lost, restarting, locked,
    a deadlock), which a later try may not meet; False for one in what was asked of it."""
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return isinstance(error, sqlite3.OperationalError) and not missing_table(error)


class Tx:
    """A transaction (or a read) on one connection, dialect-neutral."""

    def __init__(self, store: Store, connection: Any) -> None:
        self.store = store
        self.connection = connection
        self.postgres = store.dialect == "postgres"
        self.rowcount = -1

    def _sql(self, statement: str) -> str:
        return statement if self.postgres else statement.replace("%s", "?")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self.connection.cursor()
        cursor.execute(self._sql(statement), tuple(params))
        rows: list[Row] = cursor.fetchall() if cursor.description else []
        self.rowcount = cursor.rowcount
        cursor.close()
        return rows

    def create_schema(self) -> None:
        """The store's schema, on PostgreSQL (SQLite has none)."""
        if self.postgres:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.store.schema_sql}")

    def fetch(
        self, table: str, columns: Sequence[str], column: str, values: Sequence[Any]
    ) -> list[Row]:
        """Rows of `table` whose `column` is one of `values`."""
        select = f"SELECT {', '.join(columns)} FROM {self.store.name(table)} WHERE {column}"
        if self.postgres:
            return self.execute(select + " = ANY(%s)", [list(values)])
        rows: list[Row] = []
        for i in range(0, len(values), SQLITE_IN_CHUNK):
            chunk = values[i : i + SQLITE_IN_CHUNK]
            rows += self.execute(f"{select} IN ({', '.join('%s' for _ in chunk)})", chunk)
        return rows

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Append rows (COPY on PostgreSQL once there are enough of them)."""
        name = self.store.name(table)
        if self.postgres and len(rows) >= COPY_THRESHOLD:
            with (
                self.connection.cursor() as cursor,
                cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        values = "(" + ", ".join("%s" for _ in columns) + ")"
        if self.postgres and len(rows) > 1:
            # One statement for the lot: executemany is one statement (and its parse) per row.
            statement = f"INSERT INTO {name} ({', '.join(columns)}) VALUES " + ", ".join(
                values for _ in rows
            )
            self.execute(statement, [value for row in rows for value in row])
            return
        statement = self._sql(f"INSERT INTO {name} ({', '.join(columns)}) VALUES {values}")
        with _cursor(self.connection) as cursor:
            cursor.executemany(statement, rows)

    def write(self, prefix: str, table: Table, rows: list[Row], *, new: bool = False) -> None:
        """Upsert whole rows in the table's column order; insert them if they are `new` (the
        caller knows no row has their key) or the table is a journal."""
        if not rows:
            return
        name = self.store.name(prefix + table.name)
        columns = table.column_names
        insert = f"INSERT INTO {name} ({', '.join(columns)})"
        conflict = ""
        if not (new or table.journal):
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in table.key)
            conflict = f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}"
        if not self.postgres:
            values = ", ".join("?" for _ in columns)
            self.connection.executemany(f"{insert} VALUES ({values}){conflict}", rows)
        elif len(rows) < COPY_THRESHOLD:
            # One array per column: the statement's text is the same for any number of rows,
            # so psycopg parses it once and the server plans it once (prepared), where a
            # VALUES list of each batch's length was parsed and planned anew every time.
            # Binary (%b): text arrays were escaped element by element with a regex, the most
            # of `kvit project`'s CPU in a profile under payments.
            arrays = ", ".join(f"%b::{kind}[]" for _, kind in table.columns)
            statement = f"{insert} SELECT * FROM unnest({arrays}){conflict}"
            with _cursor(self.connection) as cursor:
                cursor.execute(statement, [list(c) for c in zip(*rows, strict=True)], prepare=True)
        elif not conflict:  # nothing to merge: straight into the table
            self.insert(prefix + table.name, columns, rows)
        else:
            self._copy_write(prefix + table.name, columns, insert, conflict, rows)

    def _copy_write(
        self, table: str, columns: Sequence[str], insert: str, conflict: str, rows: list[Row]
    ) -> None:
        temp = f"_load_{table}"
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {temp} "
                f"(LIKE {self.store.name(table)}) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY {temp} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"{insert} SELECT {', '.join(columns)} FROM {temp}{conflict}")


@contextmanager
def _cursor(connection: Any) -> Iterator[Any]:
    cursor = connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


class Store:
    """Connections to one database (and schema): a reader pool (PostgreSQL) or per-thread
    readers (SQLite), and dedicated connections for writers.

    `durable=False` (derived data: the read models) lets PostgreSQL commit without waiting
    for the disk: a crash may lose the last few committed batches, never half of one, and the
    follower re-applies them from its tracking position. The audit tables are durable."""

    def __init__(
        self,
        dialect: str,
        target: str,
        schema: str | None,
        pool_size: int = 8,
        *,
        durable: bool = False,
    ) -> None:
        self.dialect = dialect
        self.target = target
        self.schema = schema
        self.pool_size = pool_size
        self.durable = durable
        self._pool: ConnectionPool | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.keep_writer = False
        """Keep `writing`'s connection open between transactions (a long-lived follower)."""
        self._writer: Any = None
        self._writer_lock = threading.Lock()

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgres"

    @property
    def schema_sql(self) -> str:
        return sql.Identifier(self.schema or "public").as_string(None)

    def name(self, table: str) -> str:
        if self.postgres:
            return sql.Identifier(self.schema or "public", table).as_string(None)
        return f'"{table}"'

    @property
    def channel(self) -> str:
        """PostgreSQL channel on which read-model runners announce their progress."""
        return f"kvit_read_{self.schema or 'public'}"[:63]

    def connect(self, *, autocommit: bool = False) -> Any:
        """A dedicated connection (for a runner, a writer, the rebuild, or a listener)."""
        if self.postgres:
            connection = psycopg.connect(self.target, autocommit=autocommit, connect_timeout=5)
            if not self.durable:
                connection.execute("SET synchronous_commit TO off")
                if not autocommit:
                    connection.commit()
            return connection
        lite = sqlite3.connect(
            self.target, isolation_level=None, check_same_thread=False, timeout=30
        )
        lite.execute("PRAGMA journal_mode=WAL")
        if not self.durable:
            lite.execute("PRAGMA synchronous=NORMAL")
        return lite

    @contextmanager
    def transaction(self, connection: Any) -> Iterator[Tx]:
        """A write transaction on a dedicated connection; committed when the block ends."""
        if self.postgres:
            with connection.transaction():
                yield Tx(self, connection)
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(self, connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    @contextmanager
    def writing(self, *, lock: str | None = None) -> Iterator[Tx]:
        """One write transaction on a connection of its own, closed afterwards (or, with
        `keep_writer`, kept for the next one: a follower that writes a batch a commit should
        not pay for a new connection, a backend's start-up, each time). Writers that pass the
        same `lock` run one at a time (an advisory lock on PostgreSQL; on SQLite
        `BEGIN IMMEDIATE` already serialises every writer)."""
        if not self.keep_writer:
            connection = self.connect()
            try:
                with self._locked(connection, lock) as tx:
                    yield tx
            finally:
                connection.close()
            return
        with self._writer_lock:
            if self._writer is None:
                self._writer = self.connect()
            try:
                with self._locked(self._writer, lock) as tx:
                    yield tx
            except BaseException:
                self._drop_writer()  # it may be broken: the next write opens a new one
                raise

    @contextmanager
    def _locked(self, connection: Any, lock: str | None) -> Iterator[Tx]:
        with self.transaction(connection) as tx:
            if lock is not None and self.postgres:
                key = lock_key(lock, self.schema or "public")
                tx.execute("SELECT pg_advisory_xact_lock(%s)", [key])
            yield tx

    def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):  # a broken one: nothing left to do
                writer.close()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent read (one snapshot) on a pooled or per-thread connection."""
        if self.postgres:
            with self._reader_pool().connection() as pooled, pooled.transaction():
                pooled.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield Tx(self, pooled)
            return
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self.connect()
            with self._lock:
                self._readers.append(connection)
        connection.execute("BEGIN")
        try:
            yield Tx(self, connection)
        finally:
            connection.execute("COMMIT")

    def _reader_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.target,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs={"connect_timeout": 5},
                    timeout=5,
                    open=True,
                )
            return self._pool

    def close(self) -> None:
        with self._writer_lock:
            self._drop_writer()
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            readers, self._readers = self._readers, []
            self._local = threading.local()
        for connection in readers:
            connection.close()
