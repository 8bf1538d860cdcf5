"""Where the auditors' heavy reads of the log go: the standby at `KVIT_READ_REPLICA_URL` when it
has replayed every write acknowledged so far (storage/replica.py), else the primary.

Those reads (the audit feed and `kvit audit export`, `kvit audit verify`, as-of balances) scan
the log and the audit chain, and need nothing the read models keep; moving them to a standby
leaves the primary's I/O to the writes. Read-your-writes holds: a read waits, at most
`KVIT_READ_WAIT_TIMEOUT_SECONDS`, for the standby to replay the primary's flushed WAL position
taken as the read begins; a standby further behind, or down, is skipped and the primary answers
(`kvit_log_reads_total{served_by="primary"}` counts those).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prometheus_client import Counter

from audit.signing import AuditSettings
from audit.store import AuditStore
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from storage.replica import flushed_lsn, replayed

READS = Counter(
    "kvit_log_reads_total",
    "Auditors' heavy reads of the log by the server that answered them",
    ["served_by"],
)
REPLICA_POOL = 2
log = logging.getLogger("kvit.replica")


@dataclass(frozen=True)
class LogReader:
    """A ledger and an audit store on one server, for reads only."""

    ledger: Ledger
    store: AuditStore | None


class LogReads:
    def __init__(self, primary: LogReader, replica: LogReader | None, timeout: float) -> None:
        self.primary = primary
        self.replica = replica
        self.timeout = timeout

    def reader(self) -> LogReader:
        """The replica if it has every write acknowledged so far (waiting, bounded), else the
        primary. A primary that does not answer fails the read as any read on it would."""
        if self.replica is None:
            return self.primary
        lsn = flushed_lsn(self.primary.ledger)
        try:
            current = lsn is not None and replayed(self.replica.ledger, lsn, self.timeout)
        except Exception as error:  # the standby is down or cut off: the primary answers
            log.warning("the read replica does not answer (%s); reading the primary", error)
            current = False
        READS.labels("replica" if current else "primary").inc()
        return self.replica if current else self.primary

    def close(self) -> None:
        if self.replica is not None:
            if self.replica.store is not None:
                self.replica.store.close()
            self.replica.ledger.close()


def open_log_reads(primary: LogReader, settings: AuditSettings, timeout: float) -> LogReads:
    """The reads of this deployment: on the replica too when `KVIT_READ_REPLICA_URL` is set."""
    url = settings.read_replica_url
    if not url or not settings.uses_postgres:
        return LogReads(primary, None, timeout)
    on_replica = settings.model_copy(
        update={
            "database_url": url,
            "database_pool_size": REPLICA_POOL,
            "database_pool_max_overflow": 0,
            "database_audit_pool_size": REPLICA_POOL,
            "require_sync_standby": False,  # it takes no writes
        }
    )
    ledger = build_ledger(on_replica)
    return LogReads(primary, LogReader(ledger, AuditStore.open(on_replica)), timeout)
