"""Database faults that a new connection may cure: a cut connection, a server restarting, and
a server in recovery (a standby, or an old primary coming back as one after a failover, which
refuses writes with SQLSTATE 25006 — the drivers raise that as an InternalError). With a
cluster's URL (target_session_attrs=read-write) the next connection finds the new primary."""

from __future__ import annotations

import psycopg
import psycopg.errors
import psycopg_pool
from eventsourcing import persistence as es_persistence

# eventsourcing wraps psycopg's errors in its own; the read side and the pools raise psycopg's.
CONNECTION_FAULTS: tuple[type[Exception], ...] = (
    es_persistence.OperationalError,
    es_persistence.InterfaceError,
    es_persistence.ConnectionPoolClosedError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg_pool.PoolTimeout,
    psycopg_pool.PoolClosed,
)
INTERNAL_FAULTS: tuple[type[Exception], ...] = (es_persistence.InternalError, psycopg.InternalError)


def refused_by_a_read_only_server(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(8):  # the library wraps psycopg's error once; bounded all the same
        if seen is None:
            return False
        if isinstance(seen, psycopg.errors.ReadOnlySqlTransaction):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def cured_by_reconnecting(error: BaseException) -> bool:
    return isinstance(error, CONNECTION_FAULTS) or (
        isinstance(error, INTERNAL_FAULTS) and refused_by_a_read_only_server(error)
    )
