"""Benchmark sizes, all overridable from the environment so a quick run is one variable away."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _ints(name: str, default: str) -> list[int]:
    return [int(part) for part in os.environ.get(name, default).split(",") if part.strip()]


@dataclass(frozen=True)
class BenchConfig:
    database_url: str = field(
        default_factory=lambda: os.environ.get("KVIT_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    # pgbench: seconds per run, runs per client count.
    seconds: int = field(default_factory=lambda: _int("KVIT_BENCH_SECONDS", 10))
    pgbench_scale: int = field(default_factory=lambda: _int("KVIT_BENCH_PGBENCH_SCALE", 4))
    pgbench_clients: list[int] = field(
        default_factory=lambda: _ints("KVIT_BENCH_PGBENCH_CLIENTS", "1,4")
    )
    repeats: int = field(default_factory=lambda: _int("KVIT_BENCH_REPEATS", 3))
    # Payments: how many per timed run (split across the threads), on how many threads.
    payments: int = field(default_factory=lambda: _int("KVIT_BENCH_PAYMENTS", 1500))
    threads: list[int] = field(default_factory=lambda: _ints("KVIT_BENCH_THREADS", "1,4"))
    # Enough accounts and wallets that threads rarely touch the same aggregate and streams stay
    # short, as in real life (a few payments a month); fresh wallets for every timed run.
    accounts: int = field(default_factory=lambda: _int("KVIT_BENCH_ACCOUNTS", 256))
    wallets: int = field(default_factory=lambda: _int("KVIT_BENCH_WALLETS", 64))
    warmup_payments: int = field(default_factory=lambda: _int("KVIT_BENCH_WARMUP", 100))
    # Batch writes: commands per transaction, transactions per timed run.
    batch_size: int = field(default_factory=lambda: _int("KVIT_BENCH_BATCH_SIZE", 1000))
    batches: int = field(default_factory=lambda: _int("KVIT_BENCH_BATCHES", 5))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
