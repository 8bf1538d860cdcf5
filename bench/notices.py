"""Bank notice registers: import 100,000 notices into PostgreSQL beside pgbench TPC-B.

    python -m bench.notices            # 100,000 lines, ~1,000 accounts
    KVIT_BENCH_NOTICES=20000 python -m bench.notices
    KVIT_BENCH_PY_SPY=/tmp/import.txt python -m bench.notices   # py-spy on the big import

CPU per 1,000 lines is reported beside the rate (a rate on a shared 2-core machine says more
about the neighbours): the import process's own (`time.process_time`), and its PostgreSQL
backends' (read from /proc by their `application_name`, so other sessions on the server are
not counted).

The register mixes what real ones carry: payments by account number and by ИПД, a re-sent
part (duplicates), malformed and unknown lines, OrderIDs re-used with other content
(conflicts) and annulments. It is streamed from a file; the process's peak memory is read
after a tenth of the file and after the whole of it, so "flat in the file's size" is a figure,
not a claim. (Python's own allocation tracer, `KVIT_BENCH_TRACEMALLOC=1`, gives the traced
peak of each import too, but it triples the import's CPU: rates and CPU are then not
comparable.) The
summary must come out exactly as the generator says it should, or the bench fails.

Then the read side (bench/readside.py): every read model, matching included, catches up on
what the large import wrote (from where it stood before it, as `kvit project` would after the
import), and a full rebuild of every read model replays the whole log; both with their rates
against the goals and CPU seconds per 100,000 events.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from bench import readside
from bench.config import BenchConfig
from bench.cpu import cpu_seconds
from bench.pg import redacted, throwaway_schema
from bench.pgbench import run_baseline
from bench.profile import start_py_spy, stop_py_spy
from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.engine import connections
from ledger.notices.importer import import_register
from ledger.notices.line import COLUMNS
from ledger.registry.commands import IssueBill, OpenAccount, RegisterSupplier
from ledger.settings import Settings
from projections.schema import migrate as migrate_read_models
from tests.fixtures import INN, KPP, REQUISITES

RESULTS = Path(__file__).parent / "results"
BANK = "044525225"
APPLICATION_NAME = "kvit-bench-notices"
console = Console()


@dataclass
class Register:
    path: Path
    expected: Counter[str]
    lines: int


def order_id(n: int) -> str:
    return f"1{BANK}{n:022d}"


def setup(ledger: Ledger, accounts: int) -> list[tuple[str, str]]:
    """One supplier, `accounts` accounts with one bill each: (account number, ИПД)."""
    supplier = ledger.execute(
        RegisterSupplier.parse(
            inn=INN, kpp=KPP, name='ООО "УК Бенч"', requisites=REQUISITES, idempotency_key="s"
        )
    )
    supplier_id = supplier.result["supplier_id"]
    out = []
    for n in range(accounts):
        number = f"B{n:06d}"
        account = ledger.execute(
            OpenAccount.parse(
                supplier_id=supplier_id,
                account_number=number,
                address=f"ул. Бенч, д. {n}",
                els=None,
                idempotency_key=f"a{n}",
            )
        )
        document_id = f"70АА{n:06d}-01-6103"
        ledger.execute(
            IssueBill.parse(
                account_id=account.result["account_id"],
                document_id=document_id,
                period="2026-03",
                lines=[
                    {"service": "Отопление", "amount": 300000},
                    {"service": "ХВС", "amount": 23417},
                ],
                due_date="2026-04-15",
                idempotency_key=f"b{n}",
            )
        )
        out.append((number, document_id))
    return out


def write_register(
    path: Path, lines: int, accounts: list[tuple[str, str]], *, seed: int, first_id: int = 0
) -> Register:
    """A register with a known mix; `expected` is what its import must report."""
    rng = random.Random(seed)
    expected: Counter[str] = Counter()
    accepted: list[int] = []
    annulled: set[int] = set()
    next_id = first_id
    with path.open("w", encoding="utf-8") as out:
        out.write(";".join(COLUMNS) + "\n")
        for _ in range(lines):
            roll = rng.random()
            values = dict.fromkeys(COLUMNS, "")
            values["order_date"] = "15.03.2026"
            values["recipient_inn"] = INN
            if roll < 0.03 and accepted:  # a line re-sent
                n = rng.choice(accepted)
                values |= _payment(n, accounts)
                expected["duplicates"] += 1
            elif roll < 0.04 and accepted:  # the same OrderID, other content
                n = rng.choice(accepted)
                values |= _payment(n, accounts) | {"amount": "1,00"}
                expected["conflicts"] += 1
            elif roll < 0.05 and len(accepted) > len(annulled):
                n = rng.choice(accepted)
                values |= {"order_id": order_id(n), "order_date": "20.03.2026", "action": "annul"}
                if n in annulled:
                    expected["duplicates"] += 1  # the same annulment again
                else:
                    annulled.add(n)
                    expected["annulled"] += 1
            elif roll < 0.07:  # malformed or unknown
                values |= _payment(next_id, accounts)
                if roll < 0.06:
                    values["amount"] = "12,345"
                else:
                    values["account_number"] = "NO-SUCH"
                    values["document_id"] = ""
                next_id += 1
                expected["rejected"] += 1
            else:
                values |= _payment(next_id, accounts)
                accepted.append(next_id)
                next_id += 1
                expected["accepted"] += 1
            out.write(";".join(values[name] for name in COLUMNS) + "\n")
    return Register(path, expected, lines)


def _payment(n: int, accounts: list[tuple[str, str]]) -> dict[str, str]:
    number, document_id = accounts[n % len(accounts)]
    by_bill = n % 5 == 0
    kopecks = 1000 + n % 50000
    return {
        "order_id": order_id(n),
        "amount": f"{kopecks // 100},{kopecks % 100:02d}",
        "account_number": "" if by_bill else number,
        "document_id": document_id if by_bill else "",
        "bik": BANK,
        "settlement_account": REQUISITES["settlement_account"],
    }


def with_application_name(url: str, name: str) -> str:
    """The URL with `application_name` set: the import's backends are found by it."""
    return url + ("&" if "?" in url else "?") + f"application_name={name}"


class BackendCpu:
    """CPU seconds of the server backends named `APPLICATION_NAME` (the server must be on
    this machine: read from /proc). A backend started during the window counts whole."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.start: dict[int, float] = {}

    def _pids(self) -> list[int]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as connection:
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                [APPLICATION_NAME],
            ).fetchall()
        return [int(pid) for (pid,) in rows]

    def begin(self) -> None:
        self.start = {pid: cpu_seconds(pid) for pid in self._pids()}

    def seconds(self) -> float | None:
        """None when no backend could be read (a server on another machine)."""
        pids = set(self._pids()) | set(self.start)
        now = {pid: cpu_seconds(pid) for pid in pids}
        if not any(now.values()):
            return None
        return sum(max(0.0, now[pid] - self.start.get(pid, 0.0)) for pid in pids)


def resent(register: Register) -> Counter[str]:
    """What importing the register again must report: every line that was not rejected or a
    conflict is now a duplicate."""
    again = Counter({k: register.expected[k] for k in ("conflicts", "rejected")})
    again["duplicates"] = sum(register.expected[k] for k in ("accepted", "duplicates", "annulled"))
    return again


def timed_import(
    settings: Settings,
    register: Register,
    backends: BackendCpu,
    *,
    expected: Counter[str] | None = None,
    py_spy: str | None = None,
) -> dict[str, Any]:
    """One import by a Ledger of its own, as `kvit notices import` runs: a new process's cold
    aggregate cache, its own connections."""
    ledger = build_ledger(settings)
    try:
        return _timed(ledger, register, backends, expected or register.expected, py_spy)
    finally:
        ledger.close()


def _timed(
    ledger: Ledger,
    register: Register,
    backends: BackendCpu,
    expected: Counter[str],
    py_spy: str | None,
) -> dict[str, Any]:
    sampler = start_py_spy(py_spy, []) if py_spy else None
    traced = os.environ.get("KVIT_BENCH_TRACEMALLOC") == "1"
    if traced:
        tracemalloc.start()
    backends.begin()
    cpu_started = time.process_time()
    started = time.perf_counter()
    with register.path.open("rb") as stream:
        summary = import_register(ledger, stream, bank_bik=BANK)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    server_cpu = backends.seconds()
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    tracemalloc.stop()
    if sampler is not None:
        stop_py_spy(sampler)
    load = os.getloadavg()[0]
    got = {k: v for k, v in summary.as_dict().items() if k in expected or v}
    got.pop("seconds", None)
    got.pop("position", None)
    if Counter({k: v for k, v in got.items() if v}) != +expected:
        raise SystemExit(f"the import does not match the register: {got} != {expected}")
    return {
        "lines": register.lines,
        "resent": expected is not register.expected,
        "seconds": round(seconds, 3),
        "lines_per_second": round(register.lines / seconds, 1),
        "cpu_ms_per_1000_lines": round(1000 * cpu / register.lines * 1000, 1),
        "postgres_cpu_ms_per_1000_lines": (
            None if server_cpu is None else round(1000 * server_cpu / register.lines * 1000, 1)
        ),
        "load_1min": round(load, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_traced_mib": None if peak is None else round(peak / 2**20, 1),
        "summary": got,
    }


def main() -> None:
    config = BenchConfig()
    lines = int(os.environ.get("KVIT_BENCH_NOTICES", 100_000))
    accounts_n = int(os.environ.get("KVIT_BENCH_NOTICE_ACCOUNTS", 1000))
    connections.apply(connections.Role.ONE_OFF)
    console.print(f"pgbench TPC-B on {redacted(config.database_url)} …")
    baseline = run_baseline(
        config.database_url, clients=[4], seconds=config.seconds, repeats=config.repeats,
        scale=config.pgbench_scale,
    )[0]  # fmt: skip
    runs = []
    with throwaway_schema(config.database_url, "kvit_bench_notices") as schema:
        url = with_application_name(config.database_url, APPLICATION_NAME)
        settings = Settings(database_url=url, database_schema=schema)
        backends = BackendCpu(config.database_url)
        migrate(settings)
        ledger = build_ledger(settings)
        try:
            console.print(f"{accounts_n} accounts with a bill each …")
            accounts = setup(ledger, accounts_n)
        finally:
            ledger.close()
        with tempfile.TemporaryDirectory() as folder:
            small = write_register(
                Path(folder, "small.csv"), lines // 10, accounts, seed=1, first_id=lines * 2
            )
            big = write_register(Path(folder, "big.csv"), lines, accounts, seed=2)
            for register in (small, big):
                migrate_read_models(settings)
                readside.catch_up(settings)  # the read models are up to date before it
                console.print(f"importing {register.lines} lines …")
                py_spy = os.environ.get("KVIT_BENCH_PY_SPY") if register is big else None
                runs.append(timed_import(settings, register, backends, py_spy=py_spy))
            console.print(f"importing the {big.lines} lines again (all duplicates) …")
            runs.append(timed_import(settings, big, backends, expected=resent(big)))
        # The read side names its own connections (PGAPPNAME); a URL's name would win.
        plain = Settings(database_url=config.database_url, database_schema=schema)
        console.print("read models catching up on the import …")
        read_side = {"catch_up": readside.timed_catch_up(plain)}
        console.print("rebuilding every read model …")
        read_side["rebuild"] = readside.timed_rebuild(plain, say=console.print)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "at": datetime.now(UTC).isoformat(),
        "pgbench_tps_4_clients": round(baseline.median, 1),
        "imports": runs,
        "ratio_to_pgbench": round(runs[1]["lines_per_second"] / baseline.median, 3),
        "goal_lines_per_second": 10_000,
        "peak_rss_mib": round(rss, 1),
        "read_side": read_side,
    }
    _print(result, baseline.runs)
    RESULTS.mkdir(exist_ok=True)
    name = RESULTS / f"notices-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    name.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    console.print(f"written to {name}")


def _print(result: dict[str, Any], pgbench_runs: list[float]) -> None:
    table = Table(title="notice registers (in process, PostgreSQL)")
    columns = (
        "lines", "seconds", "lines/s", "CPU ms/1k lines", "PG CPU ms/1k", "load",
        "peak RSS MiB", "vs pgbench", "goal",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for run in result["imports"]:
        server = run["postgres_cpu_ms_per_1000_lines"]
        table.add_row(
            f"{run['lines']}{' again' if run['resent'] else ''}",
            f"{run['seconds']:.2f}",
            f"{run['lines_per_second']:,.0f}",
            f"{run['cpu_ms_per_1000_lines']:,.0f}",
            "n/a" if server is None else f"{server:,.0f}",
            f"{run['load_1min']:.2f}",
            f"{run['peak_rss_mib']:.1f}",
            f"{run['lines_per_second'] / result['pgbench_tps_4_clients']:.2f}×",
            "≥ 10,000/s" if run["lines_per_second"] >= 10_000 else "below 10,000/s",
        )
    console.print(table)
    console.print(
        f"pgbench TPC-B 4 clients: median {statistics.median(pgbench_runs):,.0f} TPS "
        f"(runs {', '.join(f'{r:,.0f}' for r in pgbench_runs)})"
    )
    figures = result["read_side"]
    console.print(readside.describe("read models' catch-up after the import", figures["catch_up"]))
    console.print(readside.describe("full rebuild of every read model", figures["rebuild"]))


if __name__ == "__main__":
    main()
