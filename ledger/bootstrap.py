"""Building the Ledger from settings, and the explicit schema step (`kvit migrate`)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ledger.application import Ledger
from ledger.engine.persistence import event_store_env
from ledger.settings import Settings


def build_ledger(settings: Settings, *, create_tables: bool = False) -> Ledger:
    if settings.database_url:
        # Fail at once with the server's reason (e.g. `database "x" does not exist`): the
        # event store's pool would wait out its timeout and report only that.
        psycopg.connect(
            settings.database_url, connect_timeout=settings.database_connect_timeout_seconds
        ).close()
    return Ledger(
        event_store_env(settings, create_tables=create_tables),
        group_commit=settings.group_commit,
    )


def migrate(settings: Settings) -> None:
    """Create the event store's schema once, before any worker starts (workers never create it)."""
    if settings.database_url and settings.database_schema:
        with psycopg.connect(settings.database_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    sql.Identifier(settings.database_schema)
                )
            )
    build_ledger(settings, create_tables=True).close()
