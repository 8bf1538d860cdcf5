"""`python -m bench.export_check`: how fast `kvit audit export` and the standalone checker
`docs/verify_export.py` go over a log, on embedded SQLite in a temporary directory.

    KVIT_BENCH_EXPORT_EVENTS   events in the log (default 50,000)
    KVIT_BENCH_QUICK=1         a smoke run of 5,000 events

Builds the history (real ledger events), chains it and signs a checkpoint every 10,000 events
(so the export carries several tree checkpoints and consistency proofs), then times the export
and the checker, run as `python3 -I` in a subprocess as an auditor would (with `--log-key`, and
again with an `--inclusion` proof). Prints one JSON object: wall-clock and CPU rates, and the
machine's load at the start and the end.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from audit.chain import catch_up
from audit.export import export
from audit.service import log_verifier, sign_head
from audit.signing import AuditSettings
from audit.store import AuditStore
from bench.ledger_history import build_history
from ledger.bootstrap import build_ledger, migrate

KEY = "22" * 32
EVERY = 10_000
SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "verify_export.py"
PYTHON = getattr(sys, "_base_executable", sys.executable)
"""An interpreter without this project's virtualenv, as an auditor's would be."""


def size() -> int:
    if os.environ.get("KVIT_BENCH_QUICK"):
        return 5_000
    return int(os.environ.get("KVIT_BENCH_EXPORT_EVENTS", 50_000))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu() -> float:
    """CPU seconds of this process and its finished children: on a shared machine the wall
    clock measures the neighbours too."""
    mine, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def timed(label: str, results: dict[str, Any], events: int, run: Any) -> Any:
    started, started_cpu = time.perf_counter(), cpu()
    value = run()
    seconds, cpu_seconds = time.perf_counter() - started, cpu() - started_cpu
    results[label] = {
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds),
        "cpu_seconds": round(cpu_seconds, 2),
        "events_per_cpu_second": round(events / cpu_seconds),
    }
    print(
        f"{label}: {seconds:.1f}s, {events / seconds:,.0f} events/s;"
        f" {cpu_seconds:.1f} CPU s, {events / cpu_seconds:,.0f} events per CPU second",
        file=sys.stderr,
    )
    return value


def chain_with_checkpoints(settings: AuditSettings, store: AuditStore, ledger: Any) -> None:
    store.ensure_tables()
    head = catch_up(ledger, store).head
    assert head is not None
    for count in range(EVERY, head.seq + 1, EVERY):
        row = store.query(
            f"SELECT position FROM {store.name('audit_chain')} WHERE seq = %s", [count]
        )[0]
        at = store.chain_row(int(row[0]))
        assert at is not None
        sign_head(settings, store, at)
    sign_head(settings, store, head)


def check(directory: Path, *options: str) -> None:
    command = [PYTHON, "-I", str(SCRIPT), str(directory), *options]
    done = subprocess.run(command, capture_output=True, text=True, env={}, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr


def main() -> None:
    wanted = size()
    results: dict[str, Any] = {"events_wanted": wanted, "load_at_start": load()}
    with tempfile.TemporaryDirectory(prefix="kvit-bench-export-") as temporary:
        base = Path(temporary)
        settings = AuditSettings(data_dir=base / "var", database_url=None, audit_signing_key=KEY)
        migrate(settings)
        ledger, store = build_ledger(settings), AuditStore.open(settings)
        try:
            events = build_history(ledger, wanted)
            results["events"] = events
            chain_with_checkpoints(settings, store, ledger)
            key = log_verifier(settings).text()
            target = base / "export"
            done = timed(
                "export", results, events, lambda: export(ledger, store, target, log_key=key)
            )
            results["tree_checkpoints"] = done.tree_checkpoints
            results["export_bytes"] = sum(p.stat().st_size for p in target.iterdir())
            timed("verify_export", results, events, lambda: check(target, "--log-key", key))
            index = str(events // 2)
            timed(
                "verify_export_inclusion",
                results,
                events,
                lambda: check(target, "--inclusion", index),
            )
        finally:
            store.close()
            ledger.close()
    results["load_at_end"] = load()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
