"""Woken by each commit to the event log: LISTEN on the channel the event store NOTIFYs in
every write transaction. Only PostgreSQL has one; on SQLite and in memory followers poll."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql


def listen(connection: psycopg.Connection[Any], app: Application[UUID]) -> None:
    """LISTEN on `connection` (in autocommit) for the commits of `app`'s event store."""
    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        raise TypeError("only the PostgreSQL event store notifies its commits")
    connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(recorder.channel_name)))


def open_listener(app: Application[UUID], conninfo: str) -> psycopg.Connection[Any] | None:
    """A new connection listening for `app`'s commits, or None where nothing notifies them."""
    if not isinstance(app.recorder, PostgresApplicationRecorder):
        return None
    connection = psycopg.connect(conninfo, autocommit=True)
    try:
        listen(connection, app)
    except BaseException:
        connection.close()
        raise
    return connection
