"""Creating the read-model tables (`migrate`), their shadow copies, and swapping them in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ledger.settings import Settings
from projections import followers, models, stuck
from projections.models.base import ReadModel
from projections.settings import ReadSettings, open_store
from projections.tables import LIVE, SHADOW, TRACKING, TYPES, Table
from storage.sql import Store, Tx, lock_key


def create_table(
    tx: Tx, prefix: str, table: Table, *, with_indexes: bool = True, unlogged: bool = False
) -> None:
    """`unlogged` (PostgreSQL): no WAL while a rebuild fills it; `set_logged` before the swap."""
    dialect = 1 if tx.postgres else 0
    columns = ", ".join(f"{name} {TYPES[kind][dialect]}" for name, kind in table.columns)
    name = tx.store.name(prefix + table.name)
    kind = "UNLOGGED TABLE" if unlogged and tx.postgres else "TABLE"
    tx.execute(
        f"CREATE {kind} IF NOT EXISTS {name} ({columns}, PRIMARY KEY ({', '.join(table.key)}))"
    )
    if with_indexes:
        create_indexes(tx, prefix, table)


def index_name(prefix: str, table: Table, columns: Sequence[str]) -> str:
    return f"{prefix}{table.name}_{'_'.join(columns)}_idx"


def create_indexes(tx: Tx, prefix: str, table: Table) -> None:
    for columns in table.indexes:
        index = index_name(prefix, table, columns)
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(index)} ON {tx.store.name(prefix + table.name)} "
            f"({', '.join(columns)})"
        )


def create_tracking(tx: Tx, names: Iterable[str]) -> None:
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {tx.store.name(TRACKING)} (projection TEXT PRIMARY KEY,"
        f" position {'BIGINT' if tx.postgres else 'INTEGER'} NOT NULL,"
        f" events {'BIGINT' if tx.postgres else 'INTEGER'} NOT NULL)"
    )
    for name in names:
        tx.execute(
            f"INSERT INTO {tx.store.name(TRACKING)} (projection, position, events)"
            " VALUES (%s, 0, 0) ON CONFLICT (projection) DO NOTHING",
            [name],
        )


def migrate_store(store: Store, chosen: Sequence[ReadModel]) -> None:
    """Create the live tables and tracking rows of `chosen`, if missing. Safe to run twice."""
    connection = store.connect()
    try:
        with store.transaction(connection) as tx:
            if store.postgres:
                tx.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key("kvit-read-migrate")])
                tx.execute(f"CREATE SCHEMA IF NOT EXISTS {store.schema_sql}")
            for model in chosen:
                for table in model.tables:
                    create_table(tx, LIVE, table)
                    add_missing_columns(tx, LIVE, table)
            create_tracking(tx, [model.name for model in chosen])
            stuck.create_table(tx)
            followers.create_table(tx)
    finally:
        connection.close()


def add_missing_columns(tx: Tx, prefix: str, table: Table) -> None:
    """A column added to a table later (e.g. `account_payer.proof`) is added to a live table
    created before it, NULL in old rows, so an upgrade needs no rebuild."""
    name = tx.store.name(prefix + table.name)
    dialect = 1 if tx.postgres else 0
    if tx.postgres:
        rows = tx.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            [tx.store.schema or "public", prefix + table.name],
        )
        present = {row[0] for row in rows}
    else:
        present = {row[1] for row in tx.execute(f"PRAGMA table_info({name})")}
    for column, kind in table.columns:
        if column not in present:
            tx.execute(f"ALTER TABLE {name} ADD COLUMN {column} {TYPES[kind][dialect]}")


def set_logged(tx: Tx, prefix: str, tables: Iterable[Table]) -> None:
    if tx.postgres:
        for table in tables:
            tx.execute(f"ALTER TABLE {tx.store.name(prefix + table.name)} SET LOGGED")


def drop_tables(tx: Tx, prefix: str, tables: Iterable[Table]) -> None:
    for table in tables:
        tx.execute(f"DROP TABLE IF EXISTS {tx.store.name(prefix + table.name)}")


def swap_in(tx: Tx, tables: Sequence[Table]) -> None:
    """Replace each live table by its shadow copy, inside the caller's transaction."""
    for table in tables:
        live, shadow = LIVE + table.name, SHADOW + table.name
        tx.execute(f"DROP TABLE IF EXISTS {tx.store.name(live)}")
        tx.execute(f"ALTER TABLE {tx.store.name(shadow)} RENAME TO {quote(live)}")
        if tx.postgres:
            # Index names are schema-wide and survive a rename: give them their live names.
            tx.execute(
                f"ALTER INDEX {tx.store.name(shadow + '_pkey')} RENAME TO {quote(live + '_pkey')}"
            )
            for columns in table.indexes:
                old, new = index_name(SHADOW, table, columns), index_name(LIVE, table, columns)
                tx.execute(f"ALTER INDEX {tx.store.name(old)} RENAME TO {quote(new)}")
        else:
            create_indexes(tx, LIVE, table)


def quote(name: str) -> str:
    """An unqualified identifier (our names are plain lower-case ASCII)."""
    return f'"{name}"'


def migrate(settings: Settings, read: ReadSettings | None = None) -> None:
    """`kvit migrate` for the read side: create every read model's tables and tracking rows.

    Idempotent and safe to run from several processes at once (on PostgreSQL it takes an
    advisory lock). Embedded mode runs it by itself when the read models start."""
    store = open_store(settings, read or ReadSettings())
    try:
        migrate_store(store, models.build())
    finally:
        store.close()
