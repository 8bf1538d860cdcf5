"""Which PostgreSQL server a process's event-store connections reach, and a generation that
moves when that changes: a failover (another host), or a restart (the old primary rejoining as
a standby, or the same server come back from a crash).

A failover may discard the old primary's last commits, so what a process cached from it may be
ahead of the new primary: its copies must go (ledger/engine/aggregate_cache.py), and a command
that read copies before the change must not save on top of them (storage/event_store.py
compares its generation). Every new pooled connection asks its server who it is, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# The address and port the server answered on and when its postmaster started: another host,
# or the same one restarted, is another server. (Public functions, no privilege needed.)
IDENTITY = "SELECT inet_server_addr()::text, inet_server_port(), pg_postmaster_start_time()::text"


class ServerWatch:
    def __init__(self) -> None:
        self.generation = 0
        self._identity: tuple[Any, ...] | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def seen(self, identity: tuple[Any, ...]) -> None:
        with self._lock:
            changed = self._identity is not None and identity != self._identity
            self._identity = identity
            if changed:
                self.generation += 1
        if changed:
            for callback in self._callbacks:
                callback()

    def after_connect(self, configure: Callable[[Any], None] | None) -> Callable[[Any], None]:
        """A pool's `configure` callback that also notes the new connection's server."""

        def configured(connection: Any) -> None:
            if configure is not None:
                configure(connection)
            row = connection.execute(IDENTITY).fetchone()
            self.seen(tuple(row.values() if isinstance(row, dict) else row))

        return configured
