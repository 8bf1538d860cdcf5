"""One small SQL layer over SQLite and PostgreSQL for the read models.

SQL is written once with `%s` placeholders and standard `ON CONFLICT` upserts, which both
databases accept; the differences (placeholders, bulk loads, key look-ups, identifiers) live
here. Bulk writes on PostgreSQL go through COPY into a temporary table, which is what lets a
rebuild keep up with the notification log.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from projections.tables import Table

Row = tuple[Any, ...]
COPY_THRESHOLD = 64
SQLITE_IN_CHUNK = 500


class Tx:
    """A transaction (or a read) on one connection, dialect-neutral."""

    def __init__(self, store: Store, connection: Any) -> None:
        self.store = store
        self.connection = connection
        self.postgres = store.dialect == "postgres"

    def _sql(self, statement: str) -> str:
        return statement if self.postgres else statement.replace("%s", "?")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self.connection.cursor()
        cursor.execute(self._sql(statement), tuple(params))
        rows = cursor.fetchall() if cursor.description else []
        self.rowcount = cursor.rowcount
        cursor.close()
        return rows

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

    def write(self, prefix: str, table: Table, rows: list[Row]) -> None:
        """Upsert (or, for a journal, insert) whole rows in the table's column order."""
        if not rows:
            return
        name = self.store.name(prefix + table.name)
        columns = table.column_names
        insert = f"INSERT INTO {name} ({', '.join(columns)})"
        conflict = ""
        if not table.journal:
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in table.key)
            conflict = f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}"
        if not self.postgres:
            values = ", ".join("?" for _ in columns)
            self.connection.executemany(f"{insert} VALUES ({values}){conflict}", rows)
        elif len(rows) < COPY_THRESHOLD:
            one = "(" + ", ".join("%s" for _ in columns) + ")"
            flat = [value for row in rows for value in row]
            self.execute(f"{insert} VALUES {', '.join(one for _ in rows)}{conflict}", flat)
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


class Store:
    """Connections to the read-model database."""

    def __init__(self, dialect: str, target: str, schema: str | None, pool_size: int = 8) -> None:
        self.dialect = dialect
        self.target = target
        self.schema = schema
        self.pool_size = pool_size
        self._pool: ConnectionPool | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

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
        """PostgreSQL channel on which runners announce their progress."""
        return f"kvit_read_{self.schema or 'public'}"[:63]

    def connect(self) -> Any:
        """A dedicated connection (for a runner, the rebuild, or a listener)."""
        if self.postgres:
            connection = psycopg.connect(self.target, connect_timeout=5)
            # Read models are derived data: a crash may lose the last few committed batches,
            # but never half of one (rows and tracking commit together), and the runner then
            # re-applies them from its tracking position. Readers see a commit at once.
            connection.execute("SET synchronous_commit TO off")
            connection.commit()
            return connection
        connection = sqlite3.connect(
            self.target, isolation_level=None, check_same_thread=False, timeout=30
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

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
    def read(self) -> Iterator[Tx]:
        """A consistent read (one snapshot) on a pooled or per-thread connection."""
        if self.postgres:
            with self._reader_pool().connection() as connection, connection.transaction():
                connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield Tx(self, connection)
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
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            readers, self._readers = self._readers, []
            self._local = threading.local()
        for connection in readers:
            connection.close()
