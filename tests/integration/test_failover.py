"""Kvit on a pg_auto_failover formation that fails over under load, with nothing lost.

A monitor, a primary and a synchronous standby (`formation.py`); Kvit's processes (`serve
--workers 2`, `project`, `audit follow`) on the cluster's multi-host URL; residents pay in a
loop and retry ambiguous answers with the same key. Meanwhile the test
1. crashes the primary (keeper and postmaster SIGKILLed) and lets the monitor promote the
   standby, then brings the old primary back, which rejoins as the new standby;
2. fails over on purpose (`pg_autoctl perform failover`);
3. cuts the standby off (every process of it stopped) and restores it.
Afterwards: every key answered 2xx is exactly one payment, the wallets lost exactly that, no key
answered 4xx moved money, no answer was a 500, /readyz came back by itself, and `kvit audit
verify` and `replay` pass on the primary and on the standby. The longest write outage of each
fault and the acknowledged payments lost are printed (goals: ≤ 15 s and 0).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from uuid import UUID

import pytest

from ledger.bootstrap import build_ledger
from ledger.settings import Settings
from tests.integration.formation import Formation
from tests.integration.test_faults import (
    RETRY_FOR_SECONDS,
    Tally,
    check_money,
    deployment_env,
    kvit,
    pay_in_a_loop,
    set_up,
)
from tests.processes import free_port, launch, stop_all, wait_ready

OUTAGE_GOAL_SECONDS = 15.0  # the goal: printed beside each figure, not asserted
# Speed is measured, not asserted: on a loaded 2-core machine the crash outage reached 24 s
# (load ~11) against 8.6-13.6 s at load ~7. The test asserts that writes came back at all.
WRITES_BACK_WITHIN_SECONDS = 60.0


@dataclass
class TimedTally(Tally):
    """A tally that also keeps when each payment was acknowledged."""

    acknowledged_at: list[float] = field(default_factory=list)

    def saw(self, status: int) -> None:
        super().saw(status)
        if 200 <= status < 300:
            with self.lock:
                self.acknowledged_at.append(time.monotonic())

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without an acknowledged payment around [start, end]."""
        with self.lock:
            times = sorted(self.acknowledged_at)
        before = [t for t in times if t < start]
        inside = [t for t in times if start <= t <= end]
        points = ([before[-1]] if before else [start]) + inside
        if not inside:
            return end - points[0]
        return max(b - a for a, b in itertools.pairwise(points))


@pytest.fixture
def formation() -> Iterator[Formation]:
    owned = Formation()
    try:
        owned.create()
        yield owned
    finally:
        owned.destroy()


def test_payments_survive_two_failovers_and_a_lost_standby(
    formation: Formation, tmp_path: Path
) -> None:
    started = time.monotonic()
    primary = formation.primary()
    # A commit acknowledged to Kvit is on both data nodes.
    commit, standbys = formation.settings_of(
        primary, "synchronous_commit", "synchronous_standby_names"
    )
    assert commit == "on" and standbys, (commit, standbys)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = deployment_env(
        formation.url,
        "kvit_failover",
        tmp_path,
        # Acknowledge a payment only once the standby has it (refused while none is attached).
        KVIT_REQUIRE_SYNC_STANDBY="true",
        # libpq's connect timeout is per host: a silent host costs this much before the next.
        KVIT_DATABASE_CONNECT_TIMEOUT_SECONDS="2",
    )
    migrated = kvit(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert kvit(env, "audit", "keygen").returncode == 0
    settings = Settings(database_url=formation.url, database_schema="kvit_failover")
    world = set_up(settings)

    logs = tmp_path / "logs"
    logs.mkdir()
    start = partial(launch, env, logs)
    processes = [
        start("project"),
        start("audit", "follow"),
        start("serve", "--port", str(port), "--workers", "2"),
    ]
    tally, stop = TimedTally(), threading.Event()
    clients = [
        threading.Thread(target=pay_in_a_loop, args=(base, who, stop, tally)) for who in world
    ]
    faults: dict[str, tuple[float, float]] = {}
    through = False
    try:
        wait_ready(base, watch=processes)
        for client in clients:
            client.start()
        time.sleep(3)

        # 1. The primary's machine dies; the monitor promotes the standby; the old primary
        #    comes back and rejoins as the new standby.
        began = time.monotonic()
        old, new = formation.primary(), formation.standby()
        formation.crash(old)
        formation.wait_for({new.name: ("wait_primary", "primary")}, 30)
        formation.start(old)
        formation.wait_for({new.name: ("primary",), old.name: ("secondary",)}, 60)
        time.sleep(3)
        faults["crash"] = (began, time.monotonic())

        # 2. A failover on purpose.
        began = time.monotonic()
        formation.perform_failover()
        formation.wait_for({old.name: ("primary",), new.name: ("secondary",)}, 60)
        time.sleep(3)
        faults["perform failover"] = (began, time.monotonic())

        # 3. The standby is cut off, then restored.
        began = time.monotonic()
        frozen = formation.freeze(formation.standby())
        time.sleep(5)
        formation.thaw(frozen)
        formation.wait_for({old.name: ("primary",), new.name: ("secondary",)}, 60)
        time.sleep(3)
        faults["lost standby"] = (began, time.monotonic())
        through = True
    finally:
        stop.set()
        for client in clients:
            if client.ident is not None:  # started
                client.join(RETRY_FOR_SECONDS + 15)
        if not through:  # the checks below will not run, nor stop the processes
            stop_all(*processes)

    outages = {name: tally.longest_gap(*window) for name, window in faults.items()}
    try:
        back_after = wait_ready(base, 45)  # by itself: nothing is restarted for it
        assert all(p.poll() is None for p in processes), "a Kvit process exited"

        lost = lost_payments(settings, tally)
        print(
            f"failover run: {len(tally.ok)} payments acknowledged, {len(lost)} of them lost;"
            f" longest write outage {', '.join(f'{n} {s:.1f}s' for n, s in outages.items())};"
            f" statuses {tally.statuses}, {tally.transport_errors} cut connections,"
            f" /readyz back after {back_after:.1f}s (outage goal {OUTAGE_GOAL_SECONDS:.0f}s)"
        )
        assert lost == [], lost
        assert tally.statuses.get(500, 0) == 0, tally.statuses
        assert tally.unresolved == [], tally.unresolved
        assert len(tally.ok) >= 5, (len(tally.ok), tally.statuses)
        check_money(settings, world, tally)
        assert max(outages.values()) <= WRITES_BACK_WITHIN_SECONDS, outages

        # The audit chain is caught up by the follower, and both checks pass on the primary
        # and on the standby.
        verify_and_replay(env, formation.url)
        # On the standby the log is read there; replay's scratch tables and the live read
        # models it compares with stay on the primary (a standby takes no writes).
        standby_url = f"{formation.standby().url}?target_session_attrs=standby"
        verify_and_replay(env, standby_url, read_models_url=formation.url)
    finally:
        stop_all(*processes)
    print(f"failover run took {time.monotonic() - started:.0f}s in all")


def lost_payments(settings: Settings, tally: Tally) -> list[str]:
    """Keys answered 2xx whose payment the cluster no longer has."""
    from ledger.domain import Payment

    ledger = build_ledger(settings)

    def missing(payment_id: UUID) -> bool:
        return ledger.read(lambda uow: uow.find(Payment, payment_id)) is None

    try:
        return [key for key, body in tally.ok.items() if missing(UUID(str(body["id"])))]
    finally:
        ledger.close()


def verify_and_replay(env: dict[str, str], url: str, read_models_url: str | None = None) -> None:
    env = {
        **env,
        "KVIT_DATABASE_URL": url,
        "KVIT_READ_DATABASE_URL": read_models_url or url,
        "KVIT_READ_DATABASE_SCHEMA": env["KVIT_DATABASE_SCHEMA"],
    }
    deadline = time.monotonic() + 30
    while True:
        verified = kvit(env, "audit", "verify", "--json")
        report = json.loads(verified.stdout) if verified.stdout.startswith("{") else {}
        if verified.returncode == 0 and report.get("unchained") == 0:
            break
        assert time.monotonic() < deadline, (url, verified.stdout, verified.stderr)
        time.sleep(1)
    replayed = kvit(env, "audit", "replay")
    assert replayed.returncode == 0, (url, replayed.stdout + replayed.stderr)
