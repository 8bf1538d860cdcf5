"""The results: one rich table on the terminal, and everything as JSON under bench/results/."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.payments import ModeResult
from bench.pgbench import PgbenchResult

RESULTS_DIR = Path(__file__).parent / "results"
BASELINE_CLIENTS = 4  # payments/s are read against pgbench with this many clients


def baseline_tps(pgbench_rows: list[dict[str, Any]]) -> float | None:
    for row in pgbench_rows:
        if row["clients"] == BASELINE_CLIENTS:
            return float(row["tps_median"])
    return None


def payment_rows(modes: list[ModeResult], baseline: float | None) -> list[dict[str, Any]]:
    rows = []
    for mode in modes:
        for threads, runs in mode.runs.items():
            median = mode.median(threads)
            rows.append(
                {
                    "group_commit": mode.group_commit,
                    "threads": threads,
                    "median_payments_per_second": round(median, 1),
                    "ratio_to_pgbench_4_clients": round(median / baseline, 4) if baseline else None,
                    "commands_per_transaction": round(mode.commands_per_transaction(threads), 2),
                    "version_conflicts": mode.conflicts(threads),
                    "median_latency_ms_p50": round(
                        statistics.median(run.summary()["latency_ms_p50"] for run in runs), 2
                    ),
                    "runs": [run.summary() for run in runs],
                }
            )
    return rows


def build_results(
    config: dict[str, Any],
    machine: dict[str, Any],
    pgbench: list[PgbenchResult],
    modes: list[ModeResult],
) -> dict[str, Any]:
    pgbench_rows = [
        {"clients": r.clients, "tps_runs": r.runs, "tps_median": round(r.median, 1)}
        for r in pgbench
    ]
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config,
        "machine": machine,
        "pgbench_tpcb": pgbench_rows,
        "payments": payment_rows(modes, baseline_tps(pgbench_rows)),
        "group_commit_totals": [mode.committer_totals for mode in modes if mode.group_commit],
    }


def print_table(results: dict[str, Any], console: Console) -> None:
    machine = results["machine"]
    postgres = machine["postgres"]["server_version"].split()[0]
    table = Table(
        title=f"Kvit wallet payments vs pgbench TPC-B (PostgreSQL {postgres}, "
        f"{machine['nproc']} CPUs, commit {machine['commit'][:8]})",
        caption="payment = create_payment + confirm_payment (2 commands); medians of "
        f"{results['config']['repeats']} runs;\nratio = per second ÷ pgbench "
        f"{BASELINE_CLIENTS}-client TPS; cmds/txn = commands per transaction",
    )
    for header in (
        "workload",
        "threads",
        "median /s",
        "runs /s",
        "ratio",
        "cmds/txn",
        "p50 ms",
        "conflicts",
    ):
        table.add_column(header, justify="left" if header == "workload" else "right")
    baseline = baseline_tps(results["pgbench_tpcb"])
    for row in results["pgbench_tpcb"]:
        table.add_row(
            "pgbench TPC-B (TPS)",
            str(row["clients"]),
            f"{row['tps_median']:,.0f}",
            " ".join(f"{tps:,.0f}" for tps in row["tps_runs"]),
            f"{row['tps_median'] / baseline:.3f}" if baseline else "-",
            "-",
            "-",
            "-",
        )
    for row in results["payments"]:
        table.add_row(
            f"payments, group commit {'on' if row['group_commit'] else 'off'}",
            str(row["threads"]),
            f"{row['median_payments_per_second']:,.1f}",
            " ".join(f"{run['payments_per_second']:,.0f}" for run in row["runs"]),
            f"{row['ratio_to_pgbench_4_clients']:.3f}" if baseline else "-",
            f"{row['commands_per_transaction']:.2f}",
            f"{row['median_latency_ms_p50']:.1f}",
            str(row["version_conflicts"]),
        )
    console.print(table)


def write_json(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
