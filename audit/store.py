"""The audit side tables, beside the event log in the same database (SQLite or PostgreSQL).

    audit_chain       position (notification id) PK, seq (events so far), timestamp,
                      event_hash, chain_hash: one row per stored event, in commit order
    audit_checkpoint  position PK, count, chain_hash, time, public_key, signature

The chain's last row is its own tracking position. Appends are compare-and-set on that last
row inside a write lock (`BEGIN IMMEDIATE` on SQLite, an advisory transaction lock on
PostgreSQL), so any number of followers can run and the chain never forks.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ledger.persistence import SQLITE_FILE
from ledger.settings import Settings

CHAIN = "audit_chain"
CHECKPOINT = "audit_checkpoint"


@dataclass(frozen=True, slots=True)
class ChainRow:
    position: int
    seq: int
    timestamp: str
    event_hash: bytes
    chain_hash: bytes


def _lock_key(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big", signed=True)


class AuditStore:
    def __init__(
        self, dialect: str, target: str, schema: str | None = None, pool_size: int = 4
    ) -> None:
        self.dialect = dialect
        self.pool_size = pool_size
        self.target = target
        self.schema = schema or "public"
        self._pool: ConnectionPool | None = None
        self._local = threading.local()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> AuditStore:
        if settings.database_url:
            return cls(
                "postgres",
                settings.database_url,
                settings.database_schema,
                settings.database_audit_pool_size,
            )
        return cls("sqlite", str(settings.data_dir / SQLITE_FILE))

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgres"

    def name(self, table: str) -> str:
        if self.postgres:
            return sql.Identifier(self.schema, table).as_string(None)
        return f'"{table}"'

    # --- connections -----------------------------------------------------------------------------
    def connect(self) -> Any:
        """A dedicated connection (autocommit on PostgreSQL; explicit BEGIN on SQLite)."""
        if self.postgres:
            return psycopg.connect(self.target, autocommit=True, connect_timeout=5)
        connection = sqlite3.connect(
            self.target, isolation_level=None, check_same_thread=False, timeout=30
        )
        connection.execute("PRAGMA busy_timeout = 30000")
        return connection

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A cursor for reads, on a pooled (PostgreSQL) or per-thread (SQLite) connection."""
        if self.postgres:
            with self._reader_pool().connection() as connection, connection.cursor() as cursor:
                yield cursor
            return
        local: Any = getattr(self._local, "connection", None)
        if local is None:
            local = self._local.connection = self.connect()
        cursor = local.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def _reader_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.target,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs={"autocommit": True, "connect_timeout": 5},
                    timeout=5,
                    open=True,
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _sql(self, statement: str) -> str:
        return statement if self.postgres else statement.replace("%s", "?")

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.reading() as cursor:
            try:
                cursor.execute(self._sql(statement), tuple(params))
            except (sqlite3.OperationalError, psycopg.errors.UndefinedTable) as error:
                if "no such table" in str(error) or isinstance(
                    error, psycopg.errors.UndefinedTable
                ):
                    return []  # the chain was never started: nothing recorded yet
                raise
            return [tuple(row) for row in cursor.fetchall()]

    # --- schema ----------------------------------------------------------------------------------
    def ensure_tables(self) -> None:
        blob, big = ("BYTEA", "BIGINT") if self.postgres else ("BLOB", "INTEGER")
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.name(CHAIN)} (position {big} PRIMARY KEY,"
            f" seq {big} NOT NULL, timestamp TEXT NOT NULL, event_hash {blob} NOT NULL,"
            f" chain_hash {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.name(CHECKPOINT)} (position {big} PRIMARY KEY,"
            f" count {big} NOT NULL, chain_hash TEXT NOT NULL, time TEXT NOT NULL,"
            " public_key TEXT NOT NULL, signature TEXT NOT NULL)",
        ]
        with self.writing() as cursor:
            for statement in statements:
                cursor.execute(statement)

    @contextmanager
    def writing(self) -> Iterator[Any]:
        """One write transaction, serialised with every other writer of the audit tables."""
        connection = self.connect()
        try:
            if self.postgres:
                with connection.transaction(), connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(%s)", [_lock_key("kvit-audit", self.schema)]
                    )
                    yield cursor
                return
            connection.execute("BEGIN IMMEDIATE")
            cursor = connection.cursor()
            try:
                yield cursor
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    # --- the chain -------------------------------------------------------------------------------
    def head(self) -> ChainRow | None:
        rows = self.query(
            f"SELECT position, seq, timestamp, event_hash, chain_hash FROM {self.name(CHAIN)}"
            " ORDER BY position DESC LIMIT 1"
        )
        return _row(rows[0]) if rows else None

    def chain_rows(self, *, after: int, limit: int, stop: int | None = None) -> list[ChainRow]:
        where, params = "position > %s", [after]
        if stop is not None:
            where += " AND position <= %s"
            params.append(stop)
        rows = self.query(
            f"SELECT position, seq, timestamp, event_hash, chain_hash FROM {self.name(CHAIN)}"
            f" WHERE {where} ORDER BY position LIMIT {int(limit)}",
            params,
        )
        return [_row(r) for r in rows]

    def chain_row(self, position: int) -> ChainRow | None:
        rows = self.chain_rows(after=position - 1, limit=1, stop=position)
        return rows[0] if rows else None

    def positions_of_hash(self, digest: bytes) -> list[int]:
        rows = self.query(
            f"SELECT position FROM {self.name(CHAIN)} WHERE event_hash = %s ORDER BY position",
            [digest],
        )
        return [r[0] for r in rows]

    def append(self, expected: ChainRow | None, rows: Sequence[ChainRow]) -> bool:
        """Add `rows` after `expected` (the head the caller computed from). False, and nothing
        written, if another follower moved the head first."""
        with self.writing() as cursor:
            cursor.execute(
                self._sql(
                    f"SELECT position, seq, chain_hash FROM {self.name(CHAIN)}"
                    " ORDER BY position DESC LIMIT 1"
                )
            )
            found = cursor.fetchone()
            now = (found[0], found[1], bytes(found[2])) if found else None
            wanted = (expected.position, expected.seq, expected.chain_hash) if expected else None
            if now != wanted:
                return False
            values = [(r.position, r.seq, r.timestamp, r.event_hash, r.chain_hash) for r in rows]
            if self.postgres and len(values) > 50:
                copy = f"COPY {self.name(CHAIN)} (position, seq, timestamp, event_hash, chain_hash)"
                with cursor.copy(copy + " FROM STDIN") as out:
                    for value in values:
                        out.write_row(value)
            else:
                cursor.executemany(
                    self._sql(f"INSERT INTO {self.name(CHAIN)} VALUES (%s, %s, %s, %s, %s)"),
                    values,
                )
        return True

    def position_after_time(self, moment: str) -> int | None:
        """The first chained position whose event is later than `moment` (canonical text)."""
        rows = self.query(
            f"SELECT MIN(position) FROM {self.name(CHAIN)} WHERE timestamp > %s", [moment]
        )
        return rows[0][0] if rows and rows[0][0] is not None else None

    def last_position_before(self, position: int) -> int:
        rows = self.query(
            f"SELECT MAX(position) FROM {self.name(CHAIN)} WHERE position < %s", [position]
        )
        return rows[0][0] if rows and rows[0][0] is not None else 0

    # --- checkpoints -----------------------------------------------------------------------------
    def add_checkpoint(self, record: dict[str, Any]) -> None:
        columns = ("position", "count", "chain_hash", "time", "public_key", "signature")
        with self.writing() as cursor:
            cursor.execute(
                self._sql(
                    f"INSERT INTO {self.name(CHECKPOINT)} ({', '.join(columns)})"
                    f" VALUES ({', '.join('%s' for _ in columns)})"
                    " ON CONFLICT (position) DO NOTHING"
                ),
                [record[c] for c in columns],
            )

    def checkpoints(self, *, at_or_after: int = 0) -> list[dict[str, Any]]:
        rows = self.query(
            f"SELECT position, count, chain_hash, time, public_key, signature"
            f" FROM {self.name(CHECKPOINT)} WHERE position >= %s ORDER BY position",
            [at_or_after],
        )
        keys = ("position", "count", "chain_hash", "time", "public_key", "signature")
        return [dict(zip(keys, row, strict=True)) for row in rows]


def _row(row: tuple[Any, ...]) -> ChainRow:
    position, seq, timestamp, event_digest, chain = row
    return ChainRow(position, seq, timestamp, bytes(event_digest), bytes(chain))
