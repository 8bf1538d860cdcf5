"""One budget for the PostgreSQL connections of a whole deployment (KVIT_DATABASE_CONNECTIONS,
default 30), split into every process's pool sizes.

PostgreSQL allows 100 connections by default, and every pool here opens its minimum eagerly, so
per-process defaults (10 for the event store alone) added up to ~86 for `serve --workers 2` plus
`kvit project`, and `kvit audit verify` then failed beside it. Instead each long-running
command derives its pools from the budget and its role, and stays within its share:

| process                 | connections                                                  |
|-------------------------|--------------------------------------------------------------|
| `kvit project`          | 3: event store 1, projector 1, lock + LISTEN 1               |
| `kvit audit follow`     | 6: event store 1, chain reads 2, LISTEN 1, and the chain     |
|                         | writer's one kept connection (counted as 2: a reconnect)     |
| `kvit mail`             | 3: event store 1, outbox 1, read models 1                    |
| `kvit serve`'s writer   | 1: the event store (one committing thread uses it)           |
| `kvit serve` (each of W)| the rest / W: LISTEN 1, audit reads 1, read models 2, and the |
|                         | event store (its reads) gets what is left                    |

With 30 and `--workers 2` a worker has 8: 4 for the event store (its reads; the writer
writes). A cached read (the usual one) holds no connection at all. One-off commands (`kvit
audit verify`, `replay`, `migrate`) are outside the budget and use small pools (ONE_OFF), so
they work beside a running deployment on a server with headroom above the budget.

A pool size set explicitly in the environment (KVIT_DATABASE_POOL_SIZE, KVIT_READ_POOL_SIZE,
KVIT_DATABASE_AUDIT_POOL_SIZE) wins over the budget's share.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    SERVE = "serve"
    PROJECT = "project"
    AUDIT = "audit"
    MAIL = "mail"
    WRITER = "writer"
    ONE_OFF = "one-off"


@dataclass(frozen=True)
class Pools:
    events: int
    """The Ledger's event-store pool (opened eagerly; no overflow)."""
    reads: int
    """The read models' pool (opened on first use)."""
    audit: int
    """The audit chain's read pool (opened on first use)."""
    other: int
    """Dedicated connections the process holds besides its pools (LISTEN, writers, locks)."""

    @property
    def total(self) -> int:
        return self.events + self.reads + self.audit + self.other


FIXED = {
    Role.PROJECT: Pools(events=1, reads=0, audit=0, other=2),
    Role.AUDIT: Pools(events=1, reads=0, audit=2, other=3),
    Role.MAIL: Pools(events=1, reads=1, audit=0, other=1),
    Role.WRITER: Pools(events=1, reads=0, audit=0, other=0),
}
ONE_OFF = Pools(events=2, reads=2, audit=2, other=2)
SERVE_OTHER, SERVE_READS, SERVE_AUDIT, SERVE_MIN_EVENTS = 1, 2, 1, 1


class BudgetTooSmallError(ValueError):
    pass


def split(budget: int, workers: int) -> dict[Role, Pools]:
    """Every process's pools for `kvit serve --workers N` beside one of each other process."""
    rest = budget - sum(p.total for p in FIXED.values())
    per_worker = rest // max(1, workers)
    events = per_worker - SERVE_OTHER - SERVE_READS - SERVE_AUDIT
    if events < SERVE_MIN_EVENTS:
        need = sum(p.total for p in FIXED.values()) + workers * (
            SERVE_OTHER + SERVE_READS + SERVE_AUDIT + SERVE_MIN_EVENTS
        )
        raise BudgetTooSmallError(
            f"KVIT_DATABASE_CONNECTIONS={budget} is too small for {workers} API workers"
            f" (needs at least {need})"
        )
    serve = Pools(events=events, reads=SERVE_READS, audit=SERVE_AUDIT, other=SERVE_OTHER)
    return {Role.SERVE: serve, **FIXED, Role.ONE_OFF: ONE_OFF}


def apply(role: Role, workers: int = 1) -> Pools:
    """Set this process's (and its children's) pool sizes from the budget in the environment,
    keeping any size the operator set explicitly. Call before building Settings."""
    from ledger.settings import Settings

    pools = split(Settings().database_connections, workers)[role]
    os.environ.setdefault("KVIT_DATABASE_POOL_SIZE", str(pools.events))
    os.environ.setdefault("KVIT_DATABASE_POOL_MAX_OVERFLOW", "0")
    os.environ.setdefault("KVIT_READ_POOL_SIZE", str(max(1, pools.reads)))
    os.environ.setdefault("KVIT_DATABASE_AUDIT_POOL_SIZE", str(max(1, pools.audit)))
    return pools
