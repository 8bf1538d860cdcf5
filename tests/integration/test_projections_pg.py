"""The read side on a real PostgreSQL, with real `kvit project` processes."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from bench.ledger_history import build_history
from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.payments.commands import CreatePayment, OpenWallet
from ledger.settings import Settings
from projections import models, queries
from projections.projector import Projector
from projections.read_models import ReadModels
from projections.rebuild import rebuild
from projections.schema import migrate as migrate_read_models
from projections.settings import ReadSettings, open_store
from projections.shadow import compare_with_shadow
from projections.tracking import read_tracking
from storage.sql import Store
from tests.conftest import TEST_DATABASE_URL, postgres_or_fail
from tests.fixtures import setup_world, top_up
from tests.unit.test_projections_model import check_read_models, commands, run_commands, set_up

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg(pg_settings: Settings) -> Iterator[tuple[Settings, Ledger, Store]]:
    migrate_read_models(pg_settings)
    ledger = build_ledger(pg_settings)
    store = open_store(pg_settings, ReadSettings())
    yield pg_settings, ledger, store
    store.close()
    ledger.close()


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env.update(
        KVIT_DATABASE_URL=settings.database_url or "",
        KVIT_DATABASE_SCHEMA=settings.database_schema or "",
    )
    env.update(extra)
    return env


class Kvit:
    """A `kvit ...` subprocess whose stderr lines are collected in the background."""

    def __init__(self, settings: Settings, *args: str, **env: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", *args],
            cwd=ROOT,
            env=env_for(settings, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()  # drained by nobody: a liveness signal
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in "".join(self.output):
            if time.monotonic() > deadline or (
                self.process.poll() is not None and self.lines.empty()
            ):
                raise AssertionError(f"never saw {text!r}; output: {''.join(self.output)}")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(30)


def positions(store: Store) -> dict[str, int]:
    with store.read() as tx:
        return {name: position for name, (position, _) in read_tracking(tx).items()}


def wait_until(condition, timeout: float = 60, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


# --- the model, on PostgreSQL ------------------------------------------------------------------
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(commands, min_size=15, max_size=60))
def test_read_models_equal_the_model_on_postgres(steps) -> None:  # type: ignore[no-untyped-def]
    postgres_or_fail()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    settings_ = Settings(database_url=TEST_DATABASE_URL, database_schema=schema)
    migrate(settings_)
    migrate_read_models(settings_)
    ledger = build_ledger(settings_)
    store = open_store(settings_, ReadSettings())
    rm = ReadModels(settings_, ledger).start()
    try:
        model = set_up(ledger)
        position = run_commands(ledger, model, steps)
        projector = Projector(
            ledger, store, models.build(), batch_size=500, announce=rm.watcher.advance
        )
        while projector.step().full:
            pass
        projector.close()
        check_read_models(rm, model, position)
        assert compare_with_shadow(ledger, store).identical
    finally:
        rm.close()
        store.close()
        ledger.close()
        with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


# --- runners as processes ----------------------------------------------------------------------
def test_runner_killed_mid_backlog_resumes_and_ends_identical_to_a_rebuild(pg) -> None:  # type: ignore[no-untyped-def]
    settings_, ledger, store = pg
    build_history(ledger, 20_000, accounts_per_chunk=100)
    head = ledger.recorder.max_notification_id()
    runner = Kvit(settings_, "project", KVIT_READ_BATCH_SIZE="100")
    wait_until(lambda: min(positions(store).values()) > head // 5, what="a fifth of the backlog")
    assert runner.stop(signal.SIGKILL) == -signal.SIGKILL
    reached = positions(store)
    # Killed mid-backlog: the slowest read model is past a fifth and not done (the fastest
    # may already have finished; that one then proves a clean resume at the head).
    assert 0 < min(reached.values()) < head, reached

    restarted = Kvit(settings_, "project", KVIT_READ_BATCH_SIZE="500")
    wait_until(
        lambda: set(positions(store).values()) == {head}, what="the restarted runner to finish"
    )
    assert restarted.stop() == 0

    # Rebuild beside the live models and compare every row, and each model's count of events
    # applied with the rebuild's: an event applied twice would show in both.
    report = compare_with_shadow(ledger, store)
    assert report.identical, report.differences
    check = Kvit(settings_, "projections", "rebuild", "--check")
    assert check.process.wait(120) == 0, "".join(check.output)
    assert "identical" in "".join(check.output)


def test_a_second_runner_of_a_projection_exits_or_stands_by_and_takes_over(pg) -> None:  # type: ignore[no-untyped-def]
    settings_, ledger, store = pg
    world = setup_world(ledger)
    first = Kvit(settings_, "project", "wallet_balance")
    first.expect("wallet_balance: following the log")
    busy = Kvit(settings_, "project", "wallet_balance", "--exit-if-busy")
    assert busy.process.wait(30) == 3
    assert "projection wallet_balance is already being run by another runner" in "".join(
        busy.output
    )

    standby = Kvit(settings_, "project", "wallet_balance")
    standby.expect("waiting as a standby")
    first.stop(signal.SIGKILL)
    standby.expect("taking over")
    top_up(ledger, world.wallet_id, world.payer_id, 777, key="after-takeover")
    head = ledger.recorder.max_notification_id()
    wait_until(lambda: positions(store)["wallet_balance"] == head, what="the standby to apply")
    with store.read() as tx:
        (balance,) = tx.execute(f"SELECT balance FROM {store.name('rm_wallet')}")[0]
    assert balance == 777
    assert standby.stop() == 0


def test_every_writer_reads_its_own_write_on_postgres_under_concurrent_writers(pg) -> None:  # type: ignore[no-untyped-def]
    settings_, ledger, _store = pg
    world = setup_world(ledger)
    runner = Kvit(settings_, "project")
    for name in models.NAMES:
        runner.expect(f"{name}: following the log")
    rm = ReadModels(settings_, ledger).start()
    misses: list[str] = []
    waits: list[float] = []

    def writer(n: int) -> None:
        payer = f"payer-w{n}"
        wallet_id = UUID(
            ledger.execute(OpenWallet(payer_id=payer, idempotency_key="w")).result["wallet_id"]
        )
        top_up(ledger, wallet_id, payer, 10_000, key=f"t{n}")
        for i in range(20):
            outcome = ledger.execute(
                CreatePayment.parse(
                    payer_id=payer,
                    method="wallet",
                    idempotency_key=f"p{i}",
                    account_id=world.account_id,
                    wallet_id=wallet_id,
                    amount=100,
                    confirm=True,
                )
            )
            started = time.perf_counter()
            rm.wait_for(outcome.position, models.READ_YOUR_WRITES)  # what a write's answer waits
            waits.append(time.perf_counter() - started)
            page = queries.payment_history(rm, payer_id=payer, limit=1)
            if [e.payment_id for e in page.items] != [outcome.result["id"]]:
                misses.append(f"history of {payer} misses payment {i}")
            wallet = queries.wallet_balance(rm, wallet_id)
            if wallet is None or wallet.balance != 10_000 - 100 * (i + 1):
                misses.append(
                    f"wallet of {payer} shows {wallet and wallet.balance} after payment {i}"
                )

    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        rm.close()
        runner.stop()
    assert misses == []
    assert sorted(waits)[len(waits) // 2] < 0.1  # a median wait of a few ms, not 100 ms steps


def test_lagging_models_apply_once_a_linger_and_the_rest_at_every_commit(pg) -> None:  # type: ignore[no-untyped-def]
    settings_, ledger, store = pg
    world = setup_world(ledger)
    runner = Kvit(settings_, "project", KVIT_READ_LAGGING_LINGER_SECONDS="10")
    try:
        head = ledger.recorder.max_notification_id()
        wait_until(lambda: min(positions(store).values()) >= head, 30, "the first catch-up")
        top_up(ledger, world.wallet_id, world.payer_id, 500, key="after")
        position = ledger.recorder.max_notification_id()
        prompt = [n for n in models.NAMES if n not in models.LAGGING]
        wait_until(
            lambda: all(positions(store)[n] >= position for n in prompt), 10, "the prompt models"
        )
        now = positions(store)
        assert models.LAGGING and all(now[n] < position for n in models.LAGGING)
    finally:
        runner.stop()
    # Nothing is lost by lingering: the next runner (or the next linger) applies the rest.
    runner = Kvit(settings_, "project", KVIT_READ_LAGGING_LINGER_SECONDS="0.2")
    try:
        wait_until(lambda: min(positions(store).values()) >= position, 30, "the lagging models")
    finally:
        runner.stop()


def test_rebuild_while_a_runner_follows_swaps_in_and_stays_identical(pg) -> None:  # type: ignore[no-untyped-def]
    settings_, ledger, store = pg
    world = setup_world(ledger, wallet_balance=10_000_000)
    runner = Kvit(settings_, "project")
    stop = threading.Event()

    def keep_writing() -> None:
        i = 0
        while not stop.is_set():
            ledger.execute(
                CreatePayment.parse(
                    payer_id=world.payer_id,
                    method="wallet",
                    idempotency_key=f"p{i}",
                    account_id=world.account_id,
                    wallet_id=world.wallet_id,
                    amount=100,
                    confirm=True,
                )
            )
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.5)
        report = rebuild(ledger, store, batch_size=50)
        assert report.swapped and report.events > 0
        time.sleep(0.3)
    finally:
        stop.set()
        writer.join()
    head = ledger.recorder.max_notification_id()
    wait_until(lambda: set(positions(store).values()) == {head}, what="the runner after the swap")
    assert runner.stop() == 0
    assert compare_with_shadow(ledger, store).identical
    cli = Kvit(settings_, "projections", "rebuild")
    assert cli.process.wait(120) == 0, "".join(cli.output)
    assert f"rebuilt the log up to position {head}" in "".join(cli.output)
