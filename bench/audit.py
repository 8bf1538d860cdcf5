"""`python -m bench.audit`: how fast the auditor's tools go over a large log, on PostgreSQL.

    KVIT_BENCH_AUDIT_EVENTS   events in the log (default 1,000,000)
    KVIT_BENCH_QUICK=1        a smoke run of 20,000 events
    KVIT_BENCH_DATABASE_URL   the server (default: the local test database)

Builds the history (real ledger events, bulk-copied into a throwaway schema), then times:
a full rebuild of every read model (its rate against the goal of 50,000 events/s and its CPU
per 100,000 events, bench/readside.py), chaining it (the follower's catch-up, which also grows
the Merkle tree), `verify` (walk + recompute the chain and the tree + one checkpoint of each
kind), and `replay` (rebuild of every read model into scratch tables, row-by-row comparison
with live read models, and the trial balance against the log's postings). Prints one JSON
object.

`verify` is also measured in CPU seconds per 100,000 events, this process's and its
PostgreSQL backend's (read from /proc): on a shared 2-core machine the CPU is much steadier
than the rate, which the load (`uptime`) printed beside it explains.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

import psycopg

from audit.chain import catch_up
from audit.service import checkpoint_now, trusted_verifier
from audit.signing import AuditSettings, trusted_public_key
from audit.store import AuditStore
from audit.verify import verify
from bench import readside
from bench.config import BenchConfig
from bench.cpu import cpu_seconds
from bench.ledger_history import build_history
from bench.pg import throwaway_schema
from ledger.bootstrap import build_ledger, migrate
from projections import models
from projections.replay_check import replay_check
from projections.schema import migrate as migrate_read_models
from projections.settings import ReadSettings, open_store

KEY = "11" * 32
VERIFY_GOAL = 200_000
"""Events per second `kvit audit verify` is to reach on this machine (issue 20)."""
VERIFY_APP = "kvit-bench-audit-verify"


def size() -> int:
    if os.environ.get("KVIT_BENCH_QUICK"):
        return 20_000
    return int(os.environ.get("KVIT_BENCH_AUDIT_EVENTS", 1_000_000))


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def timed(label: str, results: dict[str, Any], events: int, run: Any) -> Any:
    started = time.perf_counter()
    value = run()
    seconds = time.perf_counter() - started
    results[label] = {"seconds": round(seconds, 2), "events_per_second": round(events / seconds)}
    print(f"{label}: {seconds:.1f}s, {events / seconds:,.0f} events/s", file=sys.stderr)
    return value


def verify_measured(
    ledger: Any, settings: AuditSettings, store: AuditStore, results: dict[str, Any], events: int
) -> Any:
    """`verify` on its own connection (named, to find its PostgreSQL backend): wall time, the
    rate against the goal, and CPU seconds per 100k events with the load beside them."""
    url = settings.database_url or ""
    named = f"{url}{'&' if '?' in url else '?'}application_name={VERIFY_APP}"
    reader = AuditStore("postgres", named, settings.database_schema)
    checkpoints, notes = store.checkpoints(), [text for _, text in store.notes()]
    try:
        _backend(reader)  # opened before the clock starts
        before, server = _own_cpu(), _Backends(url, VERIFY_APP)
        report = timed(
            "verify",
            results,
            events,
            lambda: verify(
                ledger,
                reader,
                checkpoints=checkpoints,
                public_key=trusted_public_key(settings),
                notes=notes,
                verifier=trusted_verifier(settings),
            ),
        )
        ours, theirs = _own_cpu() - before, server.stop()
    finally:
        reader.close()
    rate, load = results["verify"]["events_per_second"], os.getloadavg()
    met = "met" if rate >= VERIFY_GOAL else "NOT met"
    per = {"kvit": ours * 100_000 / events, "postgres": theirs * 100_000 / events}
    results["verify"].update(
        goal_events_per_second=VERIFY_GOAL,
        cpu_seconds_per_100k=round(per["kvit"], 3),
        postgres_cpu_seconds_per_100k=round(per["postgres"], 3),
        load=[round(x, 2) for x in load],
    )
    print(
        f"verify: {rate:,} events/s (goal ≥ {VERIFY_GOAL:,}: {met});"
        f" CPU per 100k events {per['kvit']:.2f}s kvit + {per['postgres']:.2f}s PostgreSQL;"
        f" load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        file=sys.stderr,
    )
    return report


def _own_cpu() -> float:
    """CPU seconds of this process (all its threads)."""
    now = os.times()
    return now.user + now.system


def _backend(store: AuditStore) -> int:
    """The PostgreSQL backend of the store's one reader connection (opened now)."""
    with store.read() as tx:
        return int(tx.execute("SELECT pg_backend_pid()")[0][0])


class _Backends(threading.Thread):
    """CPU seconds of the PostgreSQL backends of connections named `name` (verify's): sampled
    every 0.1 s from /proc until `stop`, so that one that ends meanwhile is counted too."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(daemon=True)
        self.url, self.name = url, name
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = threading.Event()
        self.sample()
        self.start()

    def sample(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [self.name]
            ).fetchall()
        for (pid,) in rows:
            self.first.setdefault(pid, 0.0 if self.is_alive() else cpu_seconds(pid))
            self.last[pid] = max(self.last.get(pid, 0.0), cpu_seconds(pid))

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.sample()

    def stop(self) -> float:
        self.sample()
        self.done.set()
        self.join()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def main() -> None:
    config, wanted = BenchConfig(), size()
    results: dict[str, Any] = {"events_wanted": wanted}
    with throwaway_schema(config.database_url, "bench_audit") as schema:
        settings = AuditSettings(
            database_url=config.database_url, database_schema=schema, audit_signing_key=KEY
        )
        migrate(settings)
        migrate_read_models(settings)
        ledger, store = build_ledger(settings), AuditStore.open(settings)
        read = open_store(settings, ReadSettings())
        try:
            store.ensure_tables()
            events = timed("build_history", results, wanted, lambda: build_history(ledger, wanted))
            results["events"] = events
            timed("chain_catch_up", results, events, lambda: catch_up(ledger, store))
            checkpoint_now(ledger, store, settings)
            # The live read models, as `kvit project` would have left them: a full rebuild,
            # timed with its CPU (bench/readside.py).
            results["rebuild"] = readside.timed_rebuild(settings, say=_say)
            print(readside.describe("rebuild", results["rebuild"]), file=sys.stderr)
            report = verify_measured(ledger, settings, store, results, events)
            assert report.events == events and report.bulk == events, report.findings[:3]
            replayed = timed(
                "replay", results, events, lambda: replay_check(ledger, read, batch_size=5000)
            )
            assert replayed.identical, (replayed.differences, replayed.problems)
            results["read_models"] = list(models.NAMES)
        finally:
            read.close()
            store.close()
            ledger.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
