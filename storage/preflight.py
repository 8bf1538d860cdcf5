"""Checks a process makes before it starts work on PostgreSQL: the database answers and
`kvit migrate` has run (without them `serve` would start and answer 500 to every call), and
what synchronous replication promises for the writes it will acknowledge."""

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


class NoSyncCommitError(RuntimeError):
    """KVIT_REQUIRE_SYNC_STANDBY is on but the server's `synchronous_commit` never waits for a
    standby's flush: every write would be refused. The message says what to set."""


def replication(settings: DatabaseSettings, *, required: bool) -> str | None:
    """One line on what an acknowledged write rests on, or None when a synchronous standby
    confirms each one. Raises NoSyncCommitError when one is required and the server's
    `synchronous_commit` can never give it (a standby merely missing now may come back)."""
    if not settings.database_url:
        return None
    timeout = settings.database_connect_timeout_seconds
    with psycopg.connect(settings.database_url, connect_timeout=timeout) as connection:
        commit, standbys = (
            str(connection.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in ("synchronous_commit", "synchronous_standby_names")
        )
    waits = commit in ("on", "remote_apply")
    if required and not waits:
        raise NoSyncCommitError(
            f"KVIT_REQUIRE_SYNC_STANDBY is on but synchronous_commit is {commit!r}: set it to"
            " 'on' or 'remote_apply' (for the server or Kvit's role), or turn the setting off"
        )
    if waits and standbys:
        return None
    if required:
        return (
            "no synchronous standby is attached now: writes are refused (503) until one is"
            " (KVIT_REQUIRE_SYNC_STANDBY)"
        )
    return (
        "acknowledged writes are on this server alone: no synchronous standby"
        f" (synchronous_commit={commit!r}, synchronous_standby_names={standbys!r})"
    )
