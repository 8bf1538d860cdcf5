"""What an audit command opens: the ledger and the audit store, with small connection pools (a
one-off command runs beside the deployment), closed when the command ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from api.replica import LogReader, open_log_reads
from audit.signing import AuditSettings
from audit.store import AuditStore
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.engine import connections
from projections.settings import ReadSettings


@contextmanager
def opened(
    *,
    tables: bool = False,
    role: connections.Role = connections.Role.ONE_OFF,
    replica: bool = False,
) -> Iterator[tuple[AuditSettings, Ledger, AuditStore]]:
    """`replica`: a command that only reads the log and the chain reads them on
    `KVIT_READ_REPLICA_URL` when it has every acknowledged write (api/replica.py)."""
    connections.apply(role)  # small pools: a one-off command runs beside the deployment
    settings = AuditSettings()
    ledger, store = build_ledger(settings), AuditStore.open(settings)
    reads = (
        open_log_reads(LogReader(ledger, store), settings, ReadSettings().wait_timeout_seconds)
        if replica
        else None
    )
    try:
        if tables:
            store.ensure_tables()
        reader = reads.reader() if reads is not None else LogReader(ledger, store)
        assert reader.store is not None  # a database's log: the replica's has its chain
        yield settings, reader.ledger, reader.store
    finally:
        if reads is not None:
            reads.close()
        store.close()
        ledger.close()
