"""`make bench`: pgbench baseline, wallet payments/s (two calls with group commit on and off,
and `confirm: true`), then batch writes (commands/s with N commands per transaction).

Sizes come from KVIT_BENCH_* variables (see bench/config.py); the defaults take ~3 minutes.
Every throwaway database and schema is dropped on the way out, on error too.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from typing import Any, NoReturn

import psycopg
from rich.console import Console

from bench.batch import measure_batches
from bench.config import BenchConfig
from bench.facts import machine_facts, worktree_dirty
from bench.payments import Workload, measure_mode
from bench.pg import redacted
from bench.pgbench import run_baseline
from bench.report import build_results, print_table, write_json
from ledger.application import Ledger

MIN_WIDTH = 120


def _exit_on_sigterm(*_: Any) -> NoReturn:
    # SystemExit unwinds through the `finally` blocks that drop the throwaway schemas.
    sys.exit(143)


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    config = BenchConfig()
    console = Console()
    if console.width < MIN_WIDTH:  # piped output defaults to 80 columns and wraps the table
        console = Console(width=MIN_WIDTH)
    if shutil.which("pgbench") is None:
        console.print("[red]pgbench is not installed (Debian: postgresql-client).[/red]")
        return 2
    try:
        machine = machine_facts(config.database_url)
    except psycopg.OperationalError as error:
        console.print(
            f"[red]PostgreSQL does not answer at {redacted(config.database_url)}: "
            f"{error}[/red] Set KVIT_BENCH_DATABASE_URL."
        )
        return 2

    console.print(
        f"pgbench TPC-B, clients {config.pgbench_clients}, {config.repeats} × {config.seconds} s …"
    )
    pgbench = run_baseline(
        config.database_url,
        clients=config.pgbench_clients,
        seconds=config.seconds,
        repeats=config.repeats,
        scale=config.pgbench_scale,
    )
    modes = []
    # The two-call flow with group commit on and off, and `confirm: true` (one call).
    for group_commit, at_once in ((True, False), (True, True), (False, False)):
        console.print(
            f"payments ({'confirm: true' if at_once else 'create + confirm'}), group commit "
            f"{'on' if group_commit else 'off'}, threads {config.threads}, "
            f"{config.repeats} × {config.payments} payments …"
        )
        modes.append(
            measure_mode(
                config.database_url,
                Workload(config.payments, config.accounts, config.wallets),
                group_commit=group_commit,
                threads=config.threads,
                repeats=config.repeats,
                warmup=config.warmup_payments,
                at_once=at_once,
            )
        )
    batches = []
    if hasattr(Ledger, "execute_batch"):  # this bench also measures code from before batches
        console.print(
            f"batch writes, {config.batch_size} commands per transaction, "
            f"{config.repeats} × {config.batches} batches …"
        )
        batches = measure_batches(
            config.database_url,
            batch_size=config.batch_size,
            batches=config.batches,
            repeats=config.repeats,
        )

    machine["worktree_dirty_at_end"] = worktree_dirty()
    machine["loadavg_at_end"] = os.getloadavg()
    settings = {**config.as_dict(), "database_url": redacted(config.database_url)}
    results = build_results(settings, machine, pgbench, modes, batches)
    print_table(results, console)
    console.print(f"wrote {write_json(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
