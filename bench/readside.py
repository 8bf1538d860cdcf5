"""The read side's two rates, shared by the benches (bench/notices.py, bench/audit.py): every
read model catching up on what an import wrote, and a full rebuild of every read model from
the whole log; each in events per second and CPU seconds per 100,000 events, summed over this
process, its children (a rebuild's worker processes) and the PostgreSQL backends of the
connections opened meanwhile. CPU is the figure that holds on a shared 2-core machine; the
load average beside it says how shared it was.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench.cpu import cpu_seconds
from ledger.bootstrap import build_ledger
from ledger.settings import Settings
from projections import models
from projections.projector import Projector
from projections.rebuild import rebuild
from projections.settings import ReadSettings, open_store

GOAL_CATCH_UP = 10_000
GOAL_REBUILD = 50_000
POLL = 0.05


@dataclass
class Measured:
    seconds: float = 0.0
    process_cpu: float = 0.0
    """This process and its reaped children, user + system."""
    postgres_cpu: float = 0.0
    """The server backends of the connections opened while measuring (sampled every POLL s:
    a backend's last moments before it exits may be missed)."""
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """`uptime`'s load averages at the end."""
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self, events: int, goal: int) -> dict[str, Any]:
        per = 100_000 / events if events else 0.0
        rate = events / self.seconds if self.seconds else 0.0
        return {
            "events": events,
            "seconds": round(self.seconds, 2),
            "events_per_second": round(rate),
            "goal_events_per_second": goal,
            "met": rate >= goal,
            "cpu_seconds_per_100k_events": {
                "process": round(self.process_cpu * per, 2),
                "postgres": round(self.postgres_cpu * per, 2),
                "total": round((self.process_cpu + self.postgres_cpu) * per, 2),
            },
            "load_average": [round(x, 2) for x in self.load],
            **self.extra,
        }


def _process_cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class _Backends:
    """CPU of the backends whose application_name is `name`, sampled from /proc."""

    def __init__(self, database_url: str, name: str) -> None:
        self.database_url, self.name = database_url, name
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _pids(self, connection: Any) -> list[int]:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [self.name]
        ).fetchall()
        return [int(pid) for (pid,) in rows]

    def _run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=5) as connection:
            while not self.stop.is_set():
                for pid in self._pids(connection):
                    seconds = cpu_seconds(pid)
                    self.first.setdefault(pid, 0.0)  # opened while measuring: from zero
                    if seconds:
                        self.last[pid] = seconds
                self.stop.wait(POLL)

    def __enter__(self) -> _Backends:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(max(0.0, s - self.first.get(pid, 0.0)) for pid, s in self.last.items())


@contextmanager
def measured(database_url: str) -> Iterator[Measured]:
    """Measure the block: connections it opens are named (PGAPPNAME) so that their server
    backends' CPU is counted; open the applications and stores inside it."""
    name = f"kvit-bench-read-{uuid.uuid4().hex[:8]}"
    before = os.environ.get("PGAPPNAME")
    os.environ["PGAPPNAME"] = name
    result = Measured()
    try:
        with _Backends(database_url, name) as backends:
            cpu, started = _process_cpu(), time.perf_counter()
            yield result
            result.seconds = time.perf_counter() - started
            result.process_cpu = _process_cpu() - cpu
        result.postgres_cpu = backends.seconds
        result.load = os.getloadavg()
    finally:
        if before is None:
            os.environ.pop("PGAPPNAME", None)
        else:
            os.environ["PGAPPNAME"] = before


def catch_up(settings: Settings, read: ReadSettings | None = None) -> tuple[int, int]:
    """Every read model follows the log up to its head, as `kvit project` does (the same
    batches, one transaction each); returns (events applied, position reached)."""
    read = read or ReadSettings()
    ledger, store = build_ledger(settings), open_store(settings, read)
    projector = Projector(ledger, store, models.build(), batch_size=read.batch_size)
    try:
        applied = 0
        while True:
            chunk = projector.step()
            applied += chunk.count
            if not chunk.full:
                return applied, projector.position
    finally:
        projector.close()
        store.close()
        ledger.close()


def timed_catch_up(settings: Settings) -> dict[str, Any]:
    assert settings.database_url
    with measured(settings.database_url) as figures:
        events, position = catch_up(settings)
    figures.extra["position"] = position
    return figures.report(events, GOAL_CATCH_UP)


def timed_rebuild(
    settings: Settings, read: ReadSettings | None = None, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """A full rebuild of every read model, swapped in, with the settings' batch size and
    workers (`kvit projections rebuild`); its rate counts every position of the log."""
    assert settings.database_url
    read = read or ReadSettings()
    with measured(settings.database_url) as figures:
        ledger, store = build_ledger(settings), open_store(settings, read)
        try:
            done = rebuild(
                ledger, store, batch_size=read.rebuild_batch_size, workers=read.rebuild_workers
            )
        finally:
            store.close()
            ledger.close()
    figures.extra |= {"workers": read.rebuild_workers, "batch_size": read.rebuild_batch_size}
    say(f"rebuild: {done.position:,} positions in {done.seconds:.1f}s")
    return figures.report(done.position, GOAL_REBUILD)


def describe(label: str, figures: dict[str, Any]) -> str:
    cpu = figures["cpu_seconds_per_100k_events"]
    met = "met" if figures["met"] else "NOT met"
    return (
        f"{label}: {figures['events_per_second']:,} events/s"
        f" ({figures['events']:,} events in {figures['seconds']}s;"
        f" goal ≥ {figures['goal_events_per_second']:,}: {met});"
        f" CPU per 100k events {cpu['total']}s"
        f" (process {cpu['process']}s + PostgreSQL {cpu['postgres']}s);"
        f" load {' '.join(str(x) for x in figures['load_average'])}"
    )
