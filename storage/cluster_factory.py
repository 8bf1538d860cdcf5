"""The event store's PostgreSQL factory, connecting with everything the URL says.

The library builds its pool from one host, port, database, user and password. A replicated
cluster needs more of libpq: several hosts (`host=a,b port=p1,p2`) and which of them to use
(`target_session_attrs=read-write`), so that after a failover the pool's next connection
finds the new primary. Those options ride in POSTGRES_CONNINFO (a libpq `key=value` string
made by ledger/engine/persistence.py) and become the pool's conninfo; the library's own
keywords (hosts and ports as comma lists) are merged into it by libpq.

SYNC_STANDBY_REQUIRED=y (from KVIT_REQUIRE_SYNC_STANDBY) makes the recorder acknowledge a
write only once a synchronous standby has it (storage/event_store.py).
"""

from __future__ import annotations

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType

from storage.event_store import CheckedPostgresRecorder
from storage.server_watch import ServerWatch

CONNINFO = "POSTGRES_CONNINFO"
SYNC_STANDBY_REQUIRED = "SYNC_STANDBY_REQUIRED"  # not KVIT_…: the library reads KVIT_<key> first


class ClusterPostgresFactory(PostgresFactory):
    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        pool = self.datastore.pool
        pool.conninfo = self.env.get(CONNINFO) or ""
        # Every new connection says which server it reached (storage/server_watch.py).
        self.server_watch = ServerWatch()
        pool._configure = self.server_watch.after_connect(pool._configure)

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        if isinstance(recorder, CheckedPostgresRecorder):
            recorder.require_sync_standby = self.env.get(SYNC_STANDBY_REQUIRED) == "y"
            recorder.server_watch = self.server_watch
        return recorder
