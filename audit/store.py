"""The audit side tables, beside the event log in the same database (SQLite or PostgreSQL).

    audit_chain       position (notification id) PK, seq (events so far), timestamp,
                      event_hash, chain_hash: one row per stored event, in commit order
    audit_checkpoint  position PK, count, chain_hash, time, public_key, signature
    audit_tree        level, idx PK, hash: the Merkle tree's nodes at levels 0, 8, 16, … (the
                      hashes tlog-tiles serves); level 0 is one leaf hash per chained event,
                      leaf index seq - 1. Other levels are recomputed from these on demand.
    audit_note        size PK, note: each signed checkpoint as a C2SP signed note, with the
                      witnesses' cosignatures added to it

The chain's last row is its own tracking position. Appends are compare-and-set on that last
row inside a write lock (`BEGIN IMMEDIATE` on SQLite, an advisory transaction lock on
PostgreSQL), so any number of followers can run and the chain never forks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from audit.merkle import subtree_root
from ledger.engine.persistence import SQLITE_FILE
from ledger.settings import Settings
from storage.sql import Store, Tx, missing_table

CHAIN = "audit_chain"
CHECKPOINT = "audit_checkpoint"
TREE = "audit_tree"
NOTE = "audit_note"
TILE_HEIGHT = 8
LOCK = "kvit-audit"
"""Every writer of the audit tables holds it (PostgreSQL): the chain never forks."""


@dataclass(frozen=True, slots=True)
class ChainRow:
    position: int
    seq: int
    timestamp: str
    event_hash: bytes
    chain_hash: bytes


@dataclass(frozen=True, slots=True)
class ChainBlock:
    """Consecutive chain rows as columns: the hashes and timestamps end to end."""

    positions: list[int]
    seqs: list[int]
    stamps: bytes
    event_hashes: bytes
    chain_hashes: bytes


_CHAIN_COLUMNS = "position, seq, timestamp, event_hash, chain_hash"


class AuditStore(Store):
    """The audit tables on the event store's database: durable (unlike the read models),
    with dedicated connections in autocommit (statements outside `writing` stand alone)."""

    def __init__(
        self, dialect: str, target: str, schema: str | None = None, pool_size: int = 4
    ) -> None:
        super().__init__(dialect, target, schema or "public", pool_size, durable=True)

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

    def connect(self, *, autocommit: bool = True) -> Any:
        return super().connect(autocommit=autocommit)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self.read() as tx:
                return [tuple(row) for row in tx.execute(statement, params)]
        except (sqlite3.OperationalError, psycopg.errors.UndefinedTable) as error:
            if missing_table(error):
                return []  # the chain was never started: nothing recorded yet
            raise

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
            f"CREATE TABLE IF NOT EXISTS {self.name(TREE)} (level INTEGER NOT NULL,"
            f" idx {big} NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (level, idx))",
            f"CREATE TABLE IF NOT EXISTS {self.name(NOTE)} (size {big} PRIMARY KEY,"
            " note TEXT NOT NULL)",
            # leaf index → log position (tiles of entries, the tree's migration)
            f"CREATE INDEX IF NOT EXISTS audit_chain_seq ON {self.name(CHAIN)} (seq)",
        ]
        with self.writing(lock=LOCK) as tx:
            for statement in statements:
                tx.execute(statement)

    # --- the chain -------------------------------------------------------------------------------
    def head(self, tx: Tx | None = None) -> ChainRow | None:
        """The chain's last row (read in `tx` if given)."""
        statement = (
            f"SELECT {_CHAIN_COLUMNS} FROM {self.name(CHAIN)} ORDER BY position DESC LIMIT 1"
        )
        rows = tx.execute(statement) if tx is not None else self.query(statement)
        return _row(rows[0]) if rows else None

    def has_tables(self) -> bool:
        """The chain and the tree tables exist (a log never chained has neither)."""
        probe = f"SELECT 1 FROM {self.name(CHAIN)}, {self.name(TREE)} LIMIT 1"
        try:
            with self.read() as tx:
                tx.execute(probe)
        except (sqlite3.OperationalError, psycopg.errors.UndefinedTable) as error:
            if missing_table(error):
                return False
            raise
        return True

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

    def positions_of_hash(self, digest: bytes, tx: Tx | None = None) -> list[int]:
        statement = (
            f"SELECT position FROM {self.name(CHAIN)} WHERE event_hash = %s ORDER BY position"
        )
        params = [digest]
        rows = tx.execute(statement, params) if tx is not None else self.query(statement, params)
        return [r[0] for r in rows]

    def append(
        self, expected: ChainRow | None, rows: Sequence[ChainRow], leaves: Sequence[bytes]
    ) -> bool:
        """Add `rows` after `expected` (the head the caller computed from), and their leaf
        hashes to the tree. False, and nothing written, if another follower moved the head
        first, or the tree is not as long as the chain (built by `catch_up` first)."""
        with self.writing(lock=LOCK) as tx:
            size = expected.seq if expected else 0
            if _tree_size(self, tx) != size:
                return False
            found = tx.execute(
                f"SELECT position, seq, chain_hash FROM {self.name(CHAIN)}"
                " ORDER BY position DESC LIMIT 1"
            )
            now = (found[0][0], found[0][1], bytes(found[0][2])) if found else None
            wanted = (expected.position, expected.seq, expected.chain_hash) if expected else None
            if now != wanted:
                return False
            values = [(r.position, r.seq, r.timestamp, r.event_hash, r.chain_hash) for r in rows]
            tx.insert(CHAIN, ("position", "seq", "timestamp", "event_hash", "chain_hash"), values)
            _grow(self, tx, size, leaves)
        return True

    # --- the Merkle tree -------------------------------------------------------------------------
    def tree_size(self) -> int:
        rows = self.query(f"SELECT MAX(idx) FROM {self.name(TREE)} WHERE level = 0")
        return rows[0][0] + 1 if rows and rows[0][0] is not None else 0

    def add_leaves(self, size: int, leaves: Sequence[bytes]) -> bool:
        """Grow the tree from `size` leaves (compare-and-set, as `append`): the migration of a
        chain kept before the tree existed."""
        with self.writing(lock=LOCK) as tx:
            if _tree_size(self, tx) != size:
                return False
            _grow(self, tx, size, leaves)
        return True

    def tree_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """The stored hashes of tree level `level` (a multiple of 8), indices [start, end)."""
        rows = self.query(
            f"SELECT hash FROM {self.name(TREE)} WHERE level = %s AND idx >= %s AND idx < %s"
            " ORDER BY idx",
            [level, start, end],
        )
        return [bytes(r[0]) for r in rows]

    # --- reading inside one snapshot (`kvit audit verify`) ------------------------------------
    def chain_block(self, tx: Tx, *, after: int, stop: int | None) -> ChainBlock:
        """The chain rows of positions (after, stop] as columns, in position order."""
        where, params = _range(after, stop)
        rows = f"SELECT {_CHAIN_COLUMNS} FROM {self.name(CHAIN)} WHERE {where} ORDER BY position"
        if self.postgres:
            # Aggregates over an ordered subquery keep its order (PostgreSQL does; were it ever
            # not to, the positions would not match the log's and the exact walk would run).
            found = _binary(
                tx,
                "SELECT array_agg(position), array_agg(seq), string_agg(timestamp, ''),"
                " string_agg(event_hash, ''::bytea), string_agg(chain_hash, ''::bytea)"
                f" FROM ({rows}) c",
                params,
            )
            if found[0] is None:
                return ChainBlock([], [], b"", b"", b"")
            positions, seqs, stamps, events, chains = found
            return ChainBlock(positions, seqs, stamps.encode(), bytes(events), bytes(chains))
        got = [_row(r) for r in tx.execute(rows, params)]
        return ChainBlock(
            [r.position for r in got],
            [r.seq for r in got],
            "".join(r.timestamp for r in got).encode(),
            b"".join(r.event_hash for r in got),
            b"".join(r.chain_hash for r in got),
        )

    def chain_range(self, tx: Tx, *, after: int, stop: int | None) -> list[ChainRow]:
        where, params = _range(after, stop)
        found = tx.execute(
            f"SELECT {_CHAIN_COLUMNS} FROM {self.name(CHAIN)} WHERE {where} ORDER BY position",
            params,
        )
        return [_row(r) for r in found]

    def stored_leaves(self, tx: Tx, start: int, end: int) -> bytes:
        """The stored leaf hashes of indices [start, end), end to end."""
        rows = (
            f"SELECT hash FROM {self.name(TREE)} WHERE level = 0 AND idx >= %s AND idx < %s"
            " ORDER BY idx"
        )
        if self.postgres:
            found = _binary(tx, f"SELECT string_agg(hash, ''::bytea) FROM ({rows}) t", [start, end])
            return bytes(found[0] or b"")
        return b"".join(bytes(r[0]) for r in tx.execute(rows, [start, end]))

    def stored_nodes(self, tx: Tx) -> dict[tuple[int, int], bytes]:
        """Every stored node above the leaves: (height, index) -> hash."""
        found = tx.execute(f"SELECT level, idx, hash FROM {self.name(TREE)} WHERE level > 0")
        return {(int(level), int(idx)): bytes(h) for level, idx, h in found}

    # --- signed notes ----------------------------------------------------------------------------
    def put_note(self, size: int, note: str) -> None:
        """Keep a signed checkpoint, or replace it with the same one carrying more signatures."""
        with self.writing(lock=LOCK) as tx:
            tx.execute(
                f"INSERT INTO {self.name(NOTE)} (size, note) VALUES (%s, %s)"
                " ON CONFLICT (size) DO UPDATE SET note = excluded.note",
                [size, note],
            )

    def notes(self, *, at_or_after: int = 0, limit: int = 1000) -> list[tuple[int, str]]:
        rows = self.query(
            f"SELECT size, note FROM {self.name(NOTE)} WHERE size >= %s ORDER BY size"
            f" LIMIT {int(limit)}",
            [at_or_after],
        )
        return [(int(size), str(note)) for size, note in rows]

    def latest_note(self) -> tuple[int, str] | None:
        rows = self.query(f"SELECT size, note FROM {self.name(NOTE)} ORDER BY size DESC LIMIT 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

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
        with self.writing(lock=LOCK) as tx:
            tx.execute(
                f"INSERT INTO {self.name(CHECKPOINT)} ({', '.join(columns)})"
                f" VALUES ({', '.join('%s' for _ in columns)})"
                " ON CONFLICT (position) DO NOTHING",
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


def _tree_size(store: AuditStore, tx: Any) -> int:
    found = tx.execute(f"SELECT MAX(idx) FROM {store.name(TREE)} WHERE level = 0")
    return found[0][0] + 1 if found and found[0][0] is not None else 0


def _grow(store: AuditStore, tx: Any, size: int, leaves: Sequence[bytes]) -> None:
    """Append leaf hashes after `size` leaves, and every node at levels 8, 16, … they complete
    (each the root of 256 nodes eight levels below)."""
    columns = ("level", "idx", "hash")
    tx.insert(TREE, columns, [(0, size + i, leaf) for i, leaf in enumerate(leaves)])
    new_size, level = size + len(leaves), 0
    while True:
        up = level + TILE_HEIGHT
        first, last = size >> up, new_size >> up
        if first == last:
            return
        below = tx.execute(
            f"SELECT hash FROM {store.name(TREE)} WHERE level = %s AND idx >= %s AND idx < %s"
            " ORDER BY idx",
            [level, first << TILE_HEIGHT, last << TILE_HEIGHT],
        )
        hashes = [bytes(r[0]) for r in below]
        width = 1 << TILE_HEIGHT
        nodes = [
            (up, first + i, subtree_root(hashes[i * width : (i + 1) * width]))
            for i in range(last - first)
        ]
        tx.insert(TREE, columns, nodes)
        level = up


def _binary(tx: Tx, statement: str, params: Sequence[Any]) -> tuple[Any, ...]:
    """One row, in binary (PostgreSQL): hashes come as they are, not as hex to decode."""
    cursor = tx.connection.cursor(binary=True)
    cursor.execute(statement, params, prepare=True)
    row: tuple[Any, ...] = cursor.fetchone()
    return row


def _range(after: int, stop: int | None) -> tuple[str, list[int]]:
    if stop is None:
        return "position > %s", [after]
    return "position > %s AND position <= %s", [after, stop]


def _row(row: tuple[Any, ...]) -> ChainRow:
    position, seq, timestamp, event_digest, chain = row
    return ChainRow(position, seq, timestamp, bytes(event_digest), bytes(chain))
