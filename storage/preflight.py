"""Checks a process makes before it starts work on PostgreSQL: the database answers and
`kvit migrate` has run. Without them `serve` would start and answer 500 to every call."""

from __future__ import annotations

from typing import Protocol

import psycopg

from storage.log import events_table_name

# Created by `kvit migrate` beside the read models (projections/, mail/, api/link_attempts);
# named here as plain strings so that storage imports none of them.
READ_TABLES = ("rm_tracking", "notice_outbox", "link_attempt_window")
READ_MODELS, OUTBOX = ("rm_tracking",), ("notice_outbox",)


class DatabaseSettings(Protocol):
    """What the check reads of the event store's settings (ledger.settings.Settings)."""

    @property
    def database_url(self) -> str | None: ...
    @property
    def database_schema(self) -> str | None: ...
    @property
    def database_connect_timeout_seconds(self) -> int: ...


class NotMigratedError(RuntimeError):
    """The schema is missing; the message says which tables and what to run."""


def require_schema(
    settings: DatabaseSettings,
    *,
    application: str,
    read_schema: str | None = None,
    read_tables: tuple[str, ...] = READ_TABLES,
) -> None:
    """Raise NotMigratedError if a table `kvit migrate` creates is missing: the events table
    of the application named `application`, and the read tables (PostgreSQL only;
    embedded mode creates its schema itself). A database that does not answer raises
    psycopg.OperationalError, which the CLI shows as its cause in one line."""
    if not settings.database_url:
        return
    schema = settings.database_schema or "public"
    wanted = [f"{schema}.{events_table_name(application)}"]
    wanted += [f"{read_schema or schema}.{t}" for t in read_tables]
    timeout = settings.database_connect_timeout_seconds
    with psycopg.connect(settings.database_url, connect_timeout=timeout) as connection:
        missing = [
            name
            for name in wanted
            if connection.execute(
                "SELECT to_regclass(%s)", ['"{}"."{}"'.format(*name.split(".", 1))]
            ).fetchone()
            == (None,)
        ]
    if missing:
        raise NotMigratedError(
            f"the database has no Kvit schema yet (missing {', '.join(missing)}):"
            " run `kvit migrate` first"
        )
