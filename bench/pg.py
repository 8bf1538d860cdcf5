"""PostgreSQL helpers: throwaway schemas and databases that are dropped even on error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def unique_name(prefix: str) -> str:
    # A random suffix: other engineers may run the bench or the tests on the same server.
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def redacted(url: str) -> str:
    """The URL without its password, for results that get shared."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def execute(url: str, statement: sql.Composed) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(statement)


@contextmanager
def throwaway_schema(url: str, prefix: str) -> Iterator[str]:
    """A schema name that does not exist yet; whatever lives in it is dropped on exit."""
    schema = unique_name(prefix)
    try:
        yield schema
    finally:
        execute(url, sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def throwaway_database(url: str, prefix: str) -> Iterator[str]:
    """A fresh database on the server of `url`; yields its URL and drops it on exit."""
    name = unique_name(prefix)
    execute(url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(url, name)
    finally:
        # FORCE: a pgbench killed mid-run may leave a backend connected.
        execute(
            url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def server_facts(url: str) -> dict[str, str]:
    with psycopg.connect(url, connect_timeout=5) as connection:
        facts = {"version": connection.execute("SELECT version()").fetchone()[0]}  # type: ignore[index]
        for setting in ("server_version", "synchronous_commit", "fsync", "shared_buffers"):
            facts[setting] = connection.execute(
                sql.SQL("SHOW {}").format(sql.Identifier(setting))
            ).fetchone()[0]  # type: ignore[index]
    return facts
