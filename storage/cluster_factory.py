"""The event store's PostgreSQL factory, connecting with everything the URL says.

The library builds its pool from one host, port, database, user and password. A replicated
cluster needs more of libpq: several hosts (`host=a,b port=p1,p2`) and which of them to use
(`target_session_attrs=read-write`), so that after a failover the pool's next connection
finds the new primary. Those options ride in POSTGRES_CONNINFO (a libpq `key=value` string
made by ledger/engine/persistence.py) and become the pool's conninfo; the library's own
keywords (hosts and ports as comma lists) are merged into it by libpq.
"""

from __future__ import annotations

from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType

CONNINFO = "POSTGRES_CONNINFO"


class ClusterPostgresFactory(PostgresFactory):
    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        self.datastore.pool.conninfo = self.env.get(CONNINFO) or ""
