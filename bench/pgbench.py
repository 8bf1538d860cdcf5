"""The baseline: pgbench TPC-B on the same server, in a throwaway database.

It says what this machine's PostgreSQL can commit per second with small write transactions, so
the ledger's payments/s can be read as a fraction of that rather than as a bare number.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from dataclasses import dataclass

from bench.pg import throwaway_database

# PostgreSQL 14+ prints the first form; older pgbench the second.
TPS_LINE = re.compile(
    r"^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)",
    re.MULTILINE,
)


@dataclass
class PgbenchResult:
    clients: int
    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def parse_tps(output: str) -> float:
    match = TPS_LINE.search(output)
    if match is None:
        raise RuntimeError(f"no tps line in pgbench output:\n{output}")
    return float(match.group(1))


def _pgbench(*args: str, timeout: float) -> str:
    completed = subprocess.run(
        ["pgbench", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)} failed:\n{completed.stderr}")
    return completed.stdout


def run_baseline(
    url: str, *, clients: list[int], seconds: int, repeats: int, scale: int
) -> list[PgbenchResult]:
    results = []
    with throwaway_database(url, "kvit_bench_pgbench") as db_url:
        _pgbench("-i", "-q", "-s", str(scale), db_url, timeout=600)
        for count in clients:
            # One worker thread per two clients, as in the usual `-c 4 -j 2`.
            jobs = str(max(1, count // 2))
            runs = [
                parse_tps(
                    _pgbench(
                        "-c",
                        str(count),
                        "-j",
                        jobs,
                        "-T",
                        str(seconds),
                        db_url,
                        timeout=seconds + 120,
                    )
                )
                for _ in range(repeats)
            ]
            results.append(PgbenchResult(count, runs))
    return results
