"""`make bench`, HTTP part: the default deployment on PostgreSQL under `wrk`, against floors
measured in the same run (a bare FastAPI route on the same uvicorn, pgbench TPC-B 4 clients).

    python -m bench.http [--quick]

1. A throwaway schema; `kvit migrate`; residents seeded through the Ledger (untimed).
2. `kvit project`, `kvit audit follow`, `kvit mail` (to a local SMTP sink) and
   `kvit serve --workers 2`; a bare one-line FastAPI app on uvicorn with the same 2 workers.
3. Repeated rounds of wrk runs (32 and 8 connections): the bare route, /healthz, balances,
   history and wallet payments with `confirm: true` and unique Idempotency-Keys.
4. pgbench TPC-B with 4 clients on the same server.
5. Money: the wallets lost exactly what the payments the log holds paid, which are the 2xx
   answers plus at most the requests still in flight when wrk stopped; then `kvit audit
   verify` and `kvit audit replay` beside the running deployment.
6. CPU per wallet payment by role against issue 18's goals (wrk's start until the followers
   have caught up), and the same payment rounds on a deployment with the other worker count.
The deployment's PostgreSQL connections are sampled throughout (pg_stat_activity by
application_name). One table, and everything as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from bench.config import DEFAULT_DATABASE_URL
from bench.cpu import CpuMeter
from bench.deployment import ConnectionSampler, Deployment, free_port, running, smtp_sink
from bench.facts import machine_facts
from bench.http_world import Resident, seed, wallet_total, write_residents
from bench.pg import redacted, throwaway_schema
from bench.pgbench import run_baseline
from bench.wrk import WrkResult, ensure_wrk, run_wrk
from ledger.bootstrap import build_ledger
from ledger.settings import Settings

RESULTS = Path(__file__).with_name("results")
AMOUNT = 100  # kopecks per benchmark payment
GOALS = {
    "writes_ratio": 0.25,
    "writes_p99_ms": 50.0,
    "reads_ratio": 0.5,
    "reads_p99_ms": 20.0,
    "connections": 30,
}
# Issue 18, goal 2: CPU ms per wallet payment by role, summed over every process ("total",
# `kvit mail` included in it).
CPU_GOALS = {
    "api": 1.0,
    "writer": 0.7,
    "project": 0.6,
    "audit": 0.15,
    "postgres": 0.6,
    "total": 3.0,
}
PROFILES = {
    "quick": {"seconds": 5, "repeats": 1, "residents": 100, "pgbench_seconds": 5},
    "full": {"seconds": 10, "repeats": 3, "residents": 200, "pgbench_seconds": 10},
}


@contextmanager
def bare_floor(work: Path, workers: int = 2) -> Iterator[str]:
    """The one-line sync FastAPI route, served as `kvit serve` serves (httptools + uvloop)."""
    port = free_port()
    log = (work / "bare.log").open("w")
    # Another interpreter may serve it (the "before" run of a checkout without uvicorn extras).
    python = os.environ.get("KVIT_BENCH_BARE_PYTHON", sys.executable)
    process = subprocess.Popen(
        [
            python,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).parent.parent,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the bare FastAPI app did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(15)


def wait_caught_up(deployment: Deployment, timeout: float = 120) -> None:
    """Until every read model has applied the whole log (readyz reports lag per model)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(deployment.base_url + "/readyz", timeout=5).json()
        if body.get("lag") and not any(body["lag"].values()):
            return
        time.sleep(0.2)
    raise RuntimeError("read models did not catch up after the load")


def settle(deployment: Deployment, timeout: float = 120) -> None:
    """Until the read models and the audit chain have both reached the log's head."""
    wait_caught_up(deployment, timeout)
    head = httpx.get(deployment.base_url + "/readyz", timeout=5).json()["position"]
    chain = sql.Identifier(deployment.env["KVIT_DATABASE_SCHEMA"], "audit_chain")
    query = sql.SQL("SELECT coalesce(max(position), 0) FROM {}").format(chain)
    deadline = time.monotonic() + timeout
    with psycopg.connect(deployment.env["KVIT_DATABASE_URL"], autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(query).fetchone()
            if row and row[0] >= head:
                return
            time.sleep(0.1)
    raise RuntimeError("the audit chain did not catch up after the load")


def one_round(
    deployment: Deployment,
    bare_url: str,
    residents_file: Path,
    seconds: int,
    tag: str,
    meter: CpuMeter,
) -> list[WrkResult]:
    base = deployment.base_url
    runs: list[WrkResult] = []
    for connections in (32, 8):
        runs.append(
            run_wrk(
                "bare",
                bare_url,
                connections=connections,
                seconds=seconds,
                args=(str(residents_file), "/"),
            )
        )
    runs.append(
        run_wrk(
            "healthz", base, connections=32, seconds=seconds, args=(str(residents_file), "/healthz")
        )
    )
    for name, path in (("balances", "/v1/me/accounts"), ("history", "/v1/me/payments")):
        for connections in (32, 8):
            runs.append(
                run_wrk(
                    name,
                    base,
                    connections=connections,
                    seconds=seconds,
                    args=(str(residents_file), path),
                )
            )
    return runs + pay_runs(deployment, residents_file, seconds, tag, meter)


def pay_runs(
    deployment: Deployment, residents_file: Path, seconds: int, tag: str, meter: CpuMeter
) -> list[WrkResult]:
    """Wallet payments at 32 then 8 connections. Each CPU window runs from wrk's start until
    the read models and the audit chain have caught up on what it wrote: a follower's work for
    a payment counts even when it finishes after the answer."""
    processes = {p.name: p.popen.pid for p in deployment.processes}
    runs = []
    for connections in (32, 8):
        meter.begin(processes)
        runs.append(
            run_wrk(
                "payments",
                deployment.base_url,
                connections=connections,
                seconds=seconds,
                script="pay.lua",
                args=(str(residents_file), f"{tag}-c{connections}", str(AMOUNT)),
            )
        )
        settle(deployment)
        meter.end()
    return runs


def seeded(deployment: Deployment, count: int, work: Path) -> tuple[list[Resident], int, Path]:
    """`count` residents seeded through the Ledger (untimed): themselves, the wallets' total
    before the load, and the wrk scripts' input file."""
    env = deployment.env
    settings = Settings(
        database_url=env["KVIT_DATABASE_URL"],
        database_schema=env["KVIT_DATABASE_SCHEMA"],
        database_pool_size=4,
    )
    ledger = build_ledger(settings)
    try:
        residents = seed(ledger, env["KVIT_SECRET_KEY"], count)
        before = wallet_total(ledger, residents)
    finally:
        ledger.close()
    residents_file = write_residents(residents, work / "residents.txt")
    wait_caught_up(deployment)
    return residents, before, residents_file


def other_workers(
    url: str, mail_url: str, work: Path, workers: int, residents: int, rounds: int, seconds: int
) -> dict[str, Any]:
    """Goal 3's other half: the same deployment with `serve --workers N`, wallet payments only,
    in a schema of its own, right after the main deployment's rounds."""
    work = work / f"workers-{workers}"
    with (
        throwaway_schema(url, "kvit_bench_http_w") as schema,
        running(url, schema, work, mail_url=mail_url, workers=workers) as deployment,
    ):
        people, before, residents_file = seeded(deployment, residents, work)
        meter = CpuMeter(url, schema)
        tag = uuid.uuid4().hex[:8]
        runs: list[WrkResult] = []
        for n in range(rounds):
            runs += pay_runs(deployment, residents_file, seconds, f"{tag}-{n}", meter)
        money = check_money(deployment, people, before, runs)
    return {
        "workers": workers,
        "payments@32": median_of(runs, "payments", 32),
        "payments@8": median_of(runs, "payments", 8),
        "cpu_ms_per_payment": meter.per_operation_ms(sum(r.ok for r in runs)),
        "money": money,
        "runs": [asdict(r) | {"rate": r.rate} for r in runs],
    }


def median_of(runs: list[WrkResult], name: str, connections: int) -> dict[str, float]:
    chosen = [r for r in runs if r.name == name and r.connections == connections]
    return {
        "rate": statistics.median(r.rate for r in chosen),
        "p50_ms": statistics.median(r.p50_ms for r in chosen),
        "p99_ms": statistics.median(r.p99_ms for r in chosen),
        "runs": len(chosen),
        "non_2xx": sum(r.requests - r.ok for r in chosen),
    }


def check_money(
    deployment: Deployment, residents: list[Resident], before: int, runs: list[WrkResult]
) -> dict[str, Any]:
    settings = Settings(
        database_url=deployment.env["KVIT_DATABASE_URL"],
        database_schema=deployment.env["KVIT_DATABASE_SCHEMA"],
        database_pool_size=2,
    )
    ledger = build_ledger(settings)
    try:
        lost = before - wallet_total(ledger, residents)
    finally:
        ledger.close()
    answered = sum(r.ok for r in runs if r.name == "payments")
    in_flight = sum(r.connections for r in runs if r.name == "payments")
    paid = lost // AMOUNT
    return {
        "wallets_lost": lost,
        "payments_2xx": answered,
        "payments_in_log": paid,
        "max_in_flight_at_cutoff": in_flight,
        # Every 2xx was paid once; besides them only requests cut off mid-flight by wrk.
        "ok": lost % AMOUNT == 0 and answered <= paid <= answered + in_flight,
    }


def audit_beside(deployment: Deployment) -> dict[str, Any]:
    wait_caught_up(deployment)
    out = {}
    for command in ("verify", "replay"):
        started = time.monotonic()
        done = deployment.kvit("audit", command)
        out[command] = {
            "ok": done.returncode == 0,
            "seconds": round(time.monotonic() - started, 1),
            "output": (done.stdout + done.stderr)[-600:],
        }
    # A follower that fell behind shows a CPU per payment for work it has not done (the first
    # audit linger did: 0.00 ms, 13,290 events unchained); say so beside the figure.
    behind = NOT_CHAINED.search(out["verify"]["output"].replace("\n", " "))
    out["chain_behind"] = int(behind.group(1).replace(",", "")) if behind else 0
    return out


NOT_CHAINED = re.compile(r"([\d,]+) newer event\(s\) are not\s+chained yet")


def summarise(runs: list[WrkResult], pgbench_tps: float, connections: dict[str, Any]) -> dict:
    m = {(name, c): median_of(runs, name, c) for name, c in {(r.name, r.connections) for r in runs}}
    bare = m[("bare", 32)]["rate"]
    goals = {
        "writes_ratio": m[("payments", 32)]["rate"] / pgbench_tps,
        "writes_p99_ms": m[("payments", 8)]["p99_ms"],
        "balances_ratio": m[("balances", 32)]["rate"] / bare,
        "balances_p99_ms": m[("balances", 8)]["p99_ms"],
        "history_ratio": m[("history", 32)]["rate"] / bare,
        "history_p99_ms": m[("history", 8)]["p99_ms"],
        "healthz_ratio": m[("healthz", 32)]["rate"] / bare,
        "connections_peak": connections["peak"],
    }
    met = {
        "writes_ratio": goals["writes_ratio"] >= GOALS["writes_ratio"],
        "writes_p99_ms": goals["writes_p99_ms"] <= GOALS["writes_p99_ms"],
        "balances_ratio": goals["balances_ratio"] >= GOALS["reads_ratio"],
        "balances_p99_ms": goals["balances_p99_ms"] <= GOALS["reads_p99_ms"],
        "history_ratio": goals["history_ratio"] >= GOALS["reads_ratio"],
        "history_p99_ms": goals["history_p99_ms"] <= GOALS["reads_p99_ms"],
        "connections_peak": goals["connections_peak"] <= GOALS["connections"],
    }
    workloads = {f"{name}@{c}": v for (name, c), v in sorted(m.items())}
    return {"workloads": workloads, "goals": goals, "met": met}


def print_table(results: dict[str, Any], console: Console) -> None:
    s = results["summary"]
    table = Table(title="Kvit over HTTP (wrk, median of rounds) vs same-run floors")
    for column in ("workload", "conns", "req/s", "p50 ms", "p99 ms", "ratio", "goal", "met"):
        table.add_column(column, justify="left" if column == "workload" else "right")
    w, g, met = s["workloads"], s["goals"], s["met"]
    pg = results["pgbench"]["tps_median"]

    def tick(key: str) -> str:
        return "[green]yes[/green]" if met[key] else "[red]no[/red]"

    def row(label: str, key: str, ratio: str = "", goal: str = "", ok: str = "") -> None:
        v = w[key]
        table.add_row(
            label,
            key.split("@")[1],
            f"{v['rate']:,.0f}",
            f"{v['p50_ms']:.1f}",
            f"{v['p99_ms']:.1f}",
            ratio,
            goal,
            ok,
        )

    row("bare FastAPI route (floor)", "bare@32")
    row("bare FastAPI route (floor)", "bare@8")
    row("GET /healthz", "healthz@32", f"{g['healthz_ratio']:.2f}× bare")
    for name, label in (("balances", "GET /v1/me/accounts"), ("history", "GET /v1/me/payments")):
        row(label, f"{name}@32", f"{g[name + '_ratio']:.2f}× bare", "≥ 0.5×", tick(name + "_ratio"))
        row(label, f"{name}@8", "", "p99 ≤ 20", tick(name + "_p99_ms"))
    row(
        "POST /v1/payments wallet confirm",
        "payments@32",
        f"{g['writes_ratio']:.2f}× pgbench",
        "≥ 0.25×",
        tick("writes_ratio"),
    )
    row("POST /v1/payments wallet confirm", "payments@8", "", "p99 ≤ 50", tick("writes_p99_ms"))
    table.add_row("pgbench TPC-B (floor)", "4", f"{pg:,.0f}", "", "", "", "", "")
    table.add_row(
        "PostgreSQL connections, peak",
        "",
        str(g["connections_peak"]),
        "",
        "",
        "",
        "≤ 30",
        tick("connections_peak"),
    )
    console.print(table)
    money, audit = results["money"], results["audit"]
    console.print(
        f"money: wallets lost {money['wallets_lost']:,} kopecks = {money['payments_in_log']:,}"
        f" payments; 2xx answers {money['payments_2xx']:,} (≤ {money['max_in_flight_at_cutoff']}"
        f" cut off in flight) -> {'ok' if money['ok'] else 'MISMATCH'}; audit verify"
        f" {'ok' if audit['verify']['ok'] else 'FAILED'}, replay"
        f" {'ok' if audit['replay']['ok'] else 'FAILED'}"
    )
    if audit.get("chain_behind"):
        console.print(
            f"[bold red]the audit chain fell behind: {audit['chain_behind']:,} events not chained"
            " after the runs; its CPU per payment below leaves that work out[/]"
        )
    console.print(f"connections at peak by process: {results['connections']['peak_by_process']}")
    loads = ", ".join(f"{x:.1f}" for x in results["loadavg_1m_during"])
    console.print(f"load average (1 min) during the run: {loads}")
    print_write_goals(results, console)


def print_write_goals(results: dict[str, Any], console: Console) -> None:
    """Issue 18's goals 2 and 3: CPU per payment by role for both worker counts, and the
    rates side by side (goal 1 is in the table above, goal 4 in `make bench-notices`)."""
    main_workers = results["profile"]["workers"]
    other = results["other_workers"]
    by_workers = {
        main_workers: (results["cpu_ms_per_payment"], results["summary"]["workloads"]),
        other["workers"]: (other["cpu_ms_per_payment"], other),
    }
    ordered = sorted(by_workers, reverse=True)
    table = Table(title="CPU ms per wallet payment by role (wrk start to followers caught up)")
    table.add_column("role")
    for workers in ordered:
        table.add_column(f"--workers {workers}", justify="right")
    table.add_column("goal", justify="right")
    table.add_column("met", justify="right")
    roles = [r for r in by_workers[main_workers][0] if r not in CPU_GOALS]
    for role in [*CPU_GOALS, *roles]:
        figures = [by_workers[w][0].get(role) for w in ordered]
        goal = CPU_GOALS.get(role)
        met = ""
        if goal is not None:
            ok = all(f is not None and f <= goal for f in figures)
            met = "[green]yes[/green]" if ok else "[red]no[/red]"
        table.add_row(
            role,
            *("—" if f is None else f"{f:.2f}" for f in figures),
            "" if goal is None else f"≤ {goal}",
            met,
        )
    console.print(table)
    rate = {w: by_workers[w][1]["payments@32"]["rate"] for w in ordered}
    p99 = {w: by_workers[w][1]["payments@8"]["p99_ms"] for w in ordered}
    more, fewer = max(rate), min(rate)
    verdict = "met" if rate[more] >= rate[fewer] else "NOT met"
    console.print(
        "more workers never slower (goal 3): "
        + "; ".join(
            f"--workers {w}: {rate[w]:,.0f} payments/s at 32 conns, p99 {p99[w]:.0f} ms at 8"
            for w in ordered
        )
        + f" -> {rate[more] / rate[fewer]:.2f}× ({verdict}); money with --workers"
        f" {other['workers']}: {'ok' if other['money']['ok'] else 'MISMATCH'}"
    )
    console.print("registers, catch-up and rebuild (goal 4): make bench-notices")


def _exit_on_sigterm(*_: Any) -> None:
    # SystemExit unwinds through the `finally` blocks that stop the processes and drop the schema.
    sys.exit(143)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round (< 3 minutes)")
    options = parser.parse_args(argv)
    profile = PROFILES["quick" if options.quick else "full"]
    seconds = int(os.environ.get("KVIT_BENCH_HTTP_SECONDS", profile["seconds"]))
    repeats = int(os.environ.get("KVIT_BENCH_HTTP_REPEATS", profile["repeats"]))
    residents_count = int(os.environ.get("KVIT_BENCH_HTTP_RESIDENTS", profile["residents"]))
    workers = int(os.environ.get("KVIT_BENCH_HTTP_WORKERS", "2"))
    url = os.environ.get("KVIT_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    console = Console(width=max(Console().width, 130))
    ensure_wrk()
    machine = machine_facts(url)
    started = time.monotonic()
    with (
        smtp_sink() as mail_url,
        tempfile.TemporaryDirectory(prefix="kvit-bench-http-") as tmp,
        throwaway_schema(url, "kvit_bench_http") as schema,
    ):
        work = Path(tmp)
        with running(url, schema, work, mail_url=mail_url, workers=workers) as dep:
            sampler = ConnectionSampler(url, schema)
            idle = sampler.sample()
            console.print(f"deployment up; {idle} PostgreSQL connections idle; seeding …")
            residents, before, residents_file = seeded(dep, residents_count, work)
            sampler.start()
            runs: list[WrkResult] = []
            meter = CpuMeter(url, schema)
            loads = [os.getloadavg()[0]]
            tag = uuid.uuid4().hex[:8]
            with bare_floor(work) as bare_url:
                for n in range(repeats):
                    console.print(f"round {n + 1}/{repeats}: wrk, {seconds} s per run …")
                    runs += one_round(dep, bare_url, residents_file, seconds, f"{tag}-{n}", meter)
                    loads.append(os.getloadavg()[0])
            console.print(f"pgbench TPC-B, 4 clients, {repeats} × {profile['pgbench_seconds']} s …")
            pgbench = run_baseline(
                url, clients=[4], seconds=profile["pgbench_seconds"], repeats=repeats, scale=4
            )[0]
            console.print("checking money, then audit verify and replay beside it …")
            money = check_money(dep, residents, before, runs)
            audit = audit_beside(dep)
            sampler.stop()
            connections = {
                "idle": idle,
                "peak": max(sampler.peak, idle),
                "peak_by_process": dict(sampler.peak_by_process),
            }
        other = 1 if workers != 1 else 2
        console.print(f"the same deployment with --workers {other}: wallet payments only …")
        compared = other_workers(url, mail_url, work, other, residents_count, repeats, seconds)
    results = {
        "benchmark": "http",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds_total": round(time.monotonic() - started),
        "profile": {
            "workers": workers,
            "seconds": seconds,
            "repeats": repeats,
            "residents": residents_count,
            "database_url": redacted(url),
        },
        "machine": {**machine, "loadavg_at_end": os.getloadavg()},
        "pgbench": {"clients": 4, "runs": pgbench.runs, "tps_median": pgbench.median},
        "connections": connections,
        "money": money,
        "audit": audit,
        "cpu_ms_per_payment": meter.per_operation_ms(
            sum(r.ok for r in runs if r.name == "payments")
        ),
        "loadavg_1m_during": [*loads, os.getloadavg()[0]],
        "other_workers": compared,
        "runs": [asdict(r) | {"rate": r.rate} for r in runs],
    }
    results["summary"] = summarise(runs, pgbench.median, connections)
    print_table(results, console)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"http-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"wrote {path}")
    ok = money["ok"] and compared["money"]["ok"] and audit["verify"]["ok"] and audit["replay"]["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
