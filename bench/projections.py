"""Benchmark of the read side on PostgreSQL (`make bench` / `python -m bench.projections`).

Prints medians of:
- lag from a payment's commit to it being visible in the payment history (p50 / p99);
  goal p99 ≤ 20 ms, with `kvit project` runners following the log;
- rebuild rate of every read model from the whole log, in events/s, with the rebuild's peak
  RSS and its RSS along the way (flat memory); goal ≥ 50,000 events/s for 1,000,000 events;
- side by side, the notification-log scan rate of the same database (the ceiling).

Environment: KVIT_BENCH_DATABASE_URL (default KVIT_TEST_DATABASE_URL or the local server),
KVIT_BENCH_EVENTS (1000000), KVIT_BENCH_REPEATS (3), KVIT_BENCH_LAG_SAMPLES (1000),
KVIT_BENCH_SCHEMA (kvit_bench_projections; the generated log is kept there and reused).
A quick run: KVIT_BENCH_EVENTS=50000 KVIT_BENCH_LAG_SAMPLES=200 python -m bench.projections
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench.ledger_history import build_history
from ledger.bootstrap import build_ledger, migrate
from ledger.payments.commands import CreatePayment
from ledger.settings import Settings
from projections import models, queries
from projections.read_models import ReadModels
from projections.schema import migrate as migrate_read_models
from storage.log import head
from tests.fixtures import setup_world

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = os.environ.get("KVIT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def bench_settings() -> Settings:
    return Settings(
        database_url=_env("KVIT_BENCH_DATABASE_URL", DEFAULT_URL),
        database_schema=_env("KVIT_BENCH_SCHEMA", "kvit_bench_projections"),
    )


def prepare(settings: Settings, events: int) -> int:
    """A log of at least `events` events (generated once, reused while big enough)."""
    migrate(settings)
    ledger = build_ledger(settings)
    try:
        have = head(ledger)
        if have >= events:
            print(f"log: reusing {have:,} events in schema {settings.database_schema}")
            return have
    finally:
        ledger.close()
    with psycopg.connect(settings.database_url or "", autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(settings.database_schema)
            )
        )
    migrate(settings)
    ledger = build_ledger(settings)
    started = time.perf_counter()
    try:
        written = build_history(ledger, events, accounts_per_chunk=500, first_chunk=100)
    finally:
        ledger.close()
    print(f"log: generated {written:,} events in {time.perf_counter() - started:.0f}s")
    return written


def scan_rate(settings: Settings, batch: int = 5000) -> float:
    ledger = build_ledger(settings)
    try:
        started, count, after = time.perf_counter(), 0, 0
        while notifications := ledger.recorder.select_notifications(
            start=after, limit=batch, inclusive_of_start=False
        ):
            count += len(notifications)
            after = notifications[-1].id
        return count / (time.perf_counter() - started)
    finally:
        ledger.close()


def _rss_kib(pid: str = "self") -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return 0


def _largest_rss_kib() -> int:
    """The largest RSS among this process and its children (the rebuild's workers)."""
    children: list[str] = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            children += (task / "children").read_text().split()
    return max([_rss_kib(), *(_rss_kib(pid) for pid in children)])


def rebuild_child() -> None:
    """Run in a fresh process: rebuild, then print its figures as JSON."""
    from projections.rebuild import rebuild
    from projections.settings import ReadSettings, open_store

    settings, read = Settings(), ReadSettings()
    ledger, store = build_ledger(settings), open_store(settings, read)
    samples: dict[str, int] = {}

    def progress(position: int, total: int, _events: int) -> None:
        for mark in (10, 50, 90):
            if f"{mark}%" not in samples and position * 100 >= total * mark:
                samples[f"{mark}%"] = _largest_rss_kib()

    report = rebuild(
        ledger,
        store,
        batch_size=read.rebuild_batch_size,
        workers=read.rebuild_workers,
        progress=progress,
    )
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(
        json.dumps(
            {
                "events": report.position,
                "workers": read.rebuild_workers,
                "seconds": report.seconds,
                "rate": report.rate,
                "peak_rss_kib": peak,
                "rss_kib": samples,
            }
        )
    )


def rebuild_once(settings: Settings) -> dict[str, object]:
    env = {
        **os.environ,
        "KVIT_DATABASE_URL": settings.database_url or "",
        "KVIT_DATABASE_SCHEMA": settings.database_schema or "",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from bench.projections import rebuild_child; rebuild_child()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def lag(settings: Settings, samples: int) -> tuple[float, float]:
    """Commit-to-visible lag in the payment history, with runners as separate processes."""
    env = {
        **os.environ,
        "KVIT_DATABASE_URL": settings.database_url or "",
        "KVIT_DATABASE_SCHEMA": settings.database_schema or "",
    }
    # One runner process per read model, as in production.
    runners = [
        subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "project", name],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in models.NAMES
    ]
    ledger = build_ledger(settings)
    rm = ReadModels(settings, ledger).start()
    try:
        payer = f"bench-{time.time_ns()}"
        world = setup_world(ledger, payer_id=payer, wallet_balance=samples * 100)
        wallet_id = world.wallet_id
        rm.wait_for(head(ledger), timeout=120)
        lags = []
        for i in range(samples):
            outcome = ledger.execute(
                CreatePayment.parse(
                    payer_id=payer,
                    method="wallet",
                    idempotency_key=f"lag-{i}",
                    account_id=world.account_id,
                    wallet_id=wallet_id,
                    amount=100,
                    confirm=True,
                )
            )
            committed = time.perf_counter()
            rm.wait_for(outcome.position, ["payment_history"])
            assert queries.payment(rm, outcome.result["id"]) is not None
            lags.append(time.perf_counter() - committed)
            time.sleep(0.005)
    finally:
        rm.close()
        ledger.close()
        for runner in runners:
            runner.terminate()
        for runner in runners:
            runner.wait(30)
    lags.sort()
    return lags[len(lags) // 2], lags[min(len(lags) - 1, int(len(lags) * 0.99))]


def main() -> None:
    events = int(_env("KVIT_BENCH_EVENTS", "1000000"))
    repeats = int(_env("KVIT_BENCH_REPEATS", "3"))
    samples = int(_env("KVIT_BENCH_LAG_SAMPLES", "1000"))
    settings = bench_settings()
    total = prepare(settings, events)
    migrate_read_models(settings)
    scans = [scan_rate(settings) for _ in range(repeats)]
    rebuilds = [rebuild_once(settings) for _ in range(repeats)]
    p50s, p99s = zip(*(lag(settings, samples) for _ in range(repeats)), strict=True)
    median_rebuild = sorted(rebuilds, key=lambda r: r["rate"])[len(rebuilds) // 2]  # type: ignore[arg-type,return-value]
    print(f"events in the log:              {total:,}")
    print(f"notification-log scan:          {statistics.median(scans):,.0f} events/s")
    print(
        f"rebuild, all read models:       {median_rebuild['rate']:,.0f} events/s "
        f"({median_rebuild['events']:,} events in {median_rebuild['seconds']:.1f}s,"
        f" {median_rebuild['workers']} worker processes; goal ≥ 50,000)"
    )
    rss = ", ".join(f"{v // 1024}" for v in median_rebuild["rss_kib"].values())  # type: ignore[union-attr]
    peak = int(median_rebuild["peak_rss_kib"]) // 1024  # type: ignore[call-overload]
    print(f"rebuild peak RSS per process:   {peak} MiB (largest process at 10/50/90%: {rss} MiB)")
    print(
        f"lag commit → visible in history: p50 {statistics.median(p50s) * 1000:.1f} ms, "
        f"p99 {statistics.median(p99s) * 1000:.1f} ms (goal p99 ≤ 20 ms)"
    )


if __name__ == "__main__":
    main()
