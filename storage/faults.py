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


class UnconfirmedWriteError(Exception):
    """A write that no synchronous standby confirmed, while Kvit requires one
    (KVIT_REQUIRE_SYNC_STANDBY): refused before its commit (`committed` False: nothing was
    written), or found after it (replication was turned off while it committed: the write is
    on the primary alone, and a failover may discard it). Either way the answer is a 503 and
    the client retries with its key; a replay is answered only once a standby confirmed it."""

    # `committed` has a default only so that pickle, which rebuilds an exception from its args
    # and then its __dict__, can carry it from the writer process (ledger/engine/channel.py).
    def __init__(self, message: str, *, committed: bool = False) -> None:
        super().__init__(message)
        self.committed = committed
