"""What an audit command opens: the ledger and the audit store, with small connection pools (a
one-off command runs beside the deployment), closed when the command ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from audit.signing import AuditSettings
from audit.store import AuditStore
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.engine import connections


@contextmanager
def opened(
    *, tables: bool = False, role: connections.Role = connections.Role.ONE_OFF
) -> Iterator[tuple[AuditSettings, Ledger, AuditStore]]:
    connections.apply(role)  # small pools: a one-off command runs beside the deployment
    settings = AuditSettings()
    ledger, store = build_ledger(settings), AuditStore.open(settings)
    try:
        if tables:
            store.ensure_tables()
        yield settings, ledger, store
    finally:
        store.close()
        ledger.close()
