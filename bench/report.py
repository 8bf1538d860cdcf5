"""The results: one rich table on the terminal, and everything as JSON under bench/results/."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.batch import BatchResult
from bench.payments import ModeResult
from bench.pgbench import PgbenchResult

RESULTS_DIR = Path(__file__).parent / "results"
BASELINE_CLIENTS = 4  # payments/s are read against pgbench with this many clients
# Goals of issue 8, each checked in the same run.
GOAL_PAYMENTS_RATIO = 0.5  # in-process wallet payments ÷ pgbench TPC-B 4-client TPS
GOAL_BATCH_COMMANDS = 10_000  # simple commands per second in batches


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
                    "flow": "confirm: true" if mode.at_once else "create + confirm",
                    "threads": threads,
                    "median_payments_per_second": round(median, 1),
                    "ratio_to_pgbench_4_clients": round(median / baseline, 4) if baseline else None,
                    "commands_per_transaction": round(mode.commands_per_transaction(threads), 2),
                    "version_conflicts": mode.conflicts(threads),
                    "median_latency_ms_p50": round(
                        statistics.median(run.summary()["latency_ms_p50"] for run in runs), 2
                    ),
                    "median_cpu_ms_per_payment": round(
                        statistics.median(run.summary()["cpu_ms_per_payment"] for run in runs), 3
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
    batches: list[BatchResult],
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
        "batch_writes": [b.summary() for b in batches],
        "goals": goals(pgbench_rows, modes, batches),
    }


def goals(
    pgbench_rows: list[dict[str, Any]], modes: list[ModeResult], batches: list[BatchResult]
) -> list[dict[str, Any]]:
    """Each goal with the figure measured in this run and whether it is met."""
    baseline = baseline_tps(pgbench_rows)
    found = []
    for mode in modes:
        if not mode.group_commit:
            continue
        threads = max(mode.runs)
        ratio = mode.median(threads) / baseline if baseline else None
        flow = "confirm: true" if mode.at_once else "create + confirm"
        found.append(
            {
                "goal": f"wallet payments ({flow}, {threads} threads) ≥ {GOAL_PAYMENTS_RATIO}× "
                f"pgbench {BASELINE_CLIENTS} clients",
                "measured": round(ratio, 3) if ratio is not None else None,
                "met": ratio is not None and ratio >= GOAL_PAYMENTS_RATIO,
            }
        )
    simple = batches[0] if batches else None
    if simple is not None:
        found.append(
            {
                "goal": f"batch writes ({simple.kind}) ≥ {GOAL_BATCH_COMMANDS:,} commands/s",
                "measured": round(simple.median, 1),
                "met": simple.median >= GOAL_BATCH_COMMANDS,
            }
        )
    return found


def print_table(results: dict[str, Any], console: Console) -> None:
    machine = results["machine"]
    postgres = machine["postgres"]["server_version"].split()[0]
    table = Table(
        title=f"Kvit wallet payments vs pgbench TPC-B (PostgreSQL {postgres}, "
        f"{machine['nproc']} CPUs, commit {machine['commit'][:8]})",
        caption="payment = create_payment + confirm_payment (2 commands), or create_payment with "
        "confirm (1 command); medians of "
        f"{results['config']['repeats']} runs;\nratio = per second ÷ pgbench "
        f"{BASELINE_CLIENTS}-client TPS; cmds/txn = commands per transaction; CPU ms = this "
        "process's CPU per payment",
    )
    for header in (
        "workload",
        "threads",
        "median /s",
        "runs /s",
        "ratio",
        "cmds/txn",
        "p50 ms",
        "CPU ms",
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
            "-",
        )
    for row in results["payments"]:
        table.add_row(
            f"payments ({row['flow']}), group commit {'on' if row['group_commit'] else 'off'}",
            str(row["threads"]),
            f"{row['median_payments_per_second']:,.1f}",
            " ".join(f"{run['payments_per_second']:,.0f}" for run in row["runs"]),
            f"{row['ratio_to_pgbench_4_clients']:.3f}" if baseline else "-",
            f"{row['commands_per_transaction']:.2f}",
            f"{row['median_latency_ms_p50']:.1f}",
            f"{row['median_cpu_ms_per_payment']:.2f}",
            str(row["version_conflicts"]),
        )
    console.print(table)
    batch_table = Table(title="Batch writes: N commands in one transaction, each with its key")
    for header in ("commands", "per txn", "median /s", "runs /s", "CPU µs/command"):
        batch_table.add_column(header, justify="left" if header == "commands" else "right")
    for row in results["batch_writes"]:
        batch_table.add_row(
            row["kind"],
            str(row["batch_size"]),
            f"{row['commands_per_second_median']:,.0f}",
            " ".join(f"{r:,.0f}" for r in row["commands_per_second_runs"]),
            f"{row['cpu_us_per_command_median']:.0f}",
        )
    console.print(batch_table)
    goal_table = Table(title="Goals (issue 8, write path), same run")
    for header in ("goal", "measured", "met"):
        goal_table.add_column(header)
    for goal in results["goals"]:
        goal_table.add_row(goal["goal"], str(goal["measured"]), "yes" if goal["met"] else "no")
    console.print(goal_table)


def write_json(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
