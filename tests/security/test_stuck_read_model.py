"""Issue 16, item 10 (the read side): an event a read model cannot apply stops that model, and
says so — it never stops the others, and never hides.

A notice with a NUL in its payer, written before the write side's text rule (tests/security/
test_text_rule.py), is in the log for ever. PostgreSQL text cannot hold a NUL, so `kvit
project` died on it at every restart: every balance and history froze, every write waited out
the read-your-writes bound, and `/readyz` still said ready. Now the model that cannot apply it
(the matching model keeps the payer's name) stops just before it, reports it — `/readyz` not
ready with the model and its position, `kvit_read_model_stuck` in /metrics, a log line naming
the event — and the other read models, which have their own tables and positions, go on. A
stuck model never skips the event: a money view that silently left one out would be wrong.

Real processes on a real PostgreSQL: `kvit migrate`, `kvit project` and `kvit serve`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from api.auth import Role, issue_token
from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.domain import BankNotice
from ledger.notices.handlers import ReceiveNotice
from ledger.notices.line import NoticeLine
from ledger.settings import Settings
from projections import models
from projections.settings import ReadSettings, open_store
from projections.tracking import read_tracking
from tests.fixtures import ACCOUNT_NUMBER, INN, KPP, REQUISITES, World, setup_world, top_up
from tests.processes import KVIT, free_port, wait_ready

pytestmark = pytest.mark.postgres

SECRET = "stuck-read-model-secret-key-that-is-long-enough-0123"
BANK = REQUISITES["bik"]
ORDER_ID = "10445252250000001503202600000077"


class Process:
    """A `kvit ...` process whose output is collected in the background."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [KVIT, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def lines_with(self, *needles: str) -> list[str]:
        return [line for line in self.output if all(n in line for n in needles)]

    def expect(self, *needles: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while not self.lines_with(*needles):
            if time.monotonic() > deadline or self.process.poll() is not None:
                time.sleep(0.2)  # the last lines
                raise AssertionError(
                    f"never saw a line with {needles}; exit {self.process.poll()}; output:\n"
                    + "".join(self.output)
                )
            time.sleep(0.05)
        return self.lines_with(*needles)[0]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


@pytest.fixture
def env(pg_settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    values.update(
        KVIT_DATABASE_URL=str(pg_settings.database_url),
        KVIT_DATABASE_SCHEMA=str(pg_settings.database_schema),
        KVIT_DATA_DIR=str(tmp_path / "var"),
        KVIT_SECRET_KEY=SECRET,
        KVIT_ACQUIRER_SECRET=SECRET + "-acquirer",
        KVIT_READ_WAIT_TIMEOUT_SECONDS="10",
    )
    done = subprocess.run([KVIT, "migrate"], env=values, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    yield values


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def poison_the_log(ledger: Ledger) -> int:
    """A notice as an import wrote it before the text rule: the command itself, unparsed."""
    line = NoticeLine(
        line_no=1,
        order_id=ORDER_ID,
        order_date=date(2026, 3, 15),
        action="",
        amount=100000,
        payer="Ivanov\u0000",
        recipient_inn=INN,
        recipient_kpp=KPP,
        account_number=ACCOUNT_NUMBER,
    )
    return ledger.execute(ReceiveNotice(bank_bik=BANK, line=line)).position


def positions(settings: Settings) -> dict[str, int]:
    store = open_store(settings, ReadSettings())
    try:
        with store.read() as tx:
            return {name: position for name, (position, _) in read_tracking(tx).items()}
    finally:
        store.close()


def wait_until(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def serve(env: dict[str, str], processes: list[Process]) -> str:
    port = free_port()
    processes.append(Process(env, "serve", "--port", str(port)))
    base = f"http://127.0.0.1:{port}"
    started = processes[-1]
    # /healthz, not /readyz: these tests start it while a read model is stuck on purpose.
    wait_ready(
        base, 60, path="/healthz", watch=[started.process], said=lambda: "".join(started.output)
    )
    return base


def test_a_poisoned_event_stops_only_its_model_which_reports_it_everywhere(
    pg_settings: Settings, env: dict[str, str], processes: list[Process]
) -> None:
    ledger = build_ledger(pg_settings)
    try:
        world: World = setup_world(ledger)
        poisoned = poison_the_log(ledger)
        top_up(ledger, world.wallet_id, world.payer_id, 777, key="after-the-poison")
        head = ledger.recorder.max_notification_id()
    finally:
        ledger.close()
    assert head > poisoned

    runner = Process(env, "project")
    processes.append(runner)
    others = [name for name in models.NAMES if name != "matching"]
    wait_until(
        lambda: all(positions(pg_settings)[name] == head for name in others),
        "the other read models to apply the whole log",
    )
    # The log line names the model, where it stopped, and the event: position, topic, id.
    line = runner.expect("matching", "stuck")
    assert f"event {poisoned}" in line and BankNotice.Accepted.TOPIC in line, line
    # The server refuses the NUL (0x00): rows go to it as binary arrays, unchecked by psycopg.
    assert f"position {poisoned - 1}" in line and "0x00" in line, line
    assert positions(pg_settings)["matching"] == poisoned - 1  # all before it, nothing after
    assert runner.process.poll() is None, "the runner died on the event"

    base = serve(env, processes)
    ready = httpx.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["status"] == "stuck", body
    assert set(body["stuck"]) == {"matching"}, body
    stuck = body["stuck"]["matching"]
    assert (stuck["position"], stuck["event"], stuck["topic"]) == (
        poisoned - 1,
        poisoned,
        BankNotice.Accepted.TOPIC,
    ), stuck
    assert stuck["error"] == "CharacterNotInRepertoire", stuck  # the kind only: /readyz is public

    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    assert re.search(r'^kvit_read_model_stuck\{read_model="matching"\} 1\.0$', metrics, re.M)
    assert re.search(r'^kvit_read_model_stuck\{read_model="wallet_balance"\} 0\.0$', metrics, re.M)

    # A resident's write still answers at once, and whole: read-your-writes waits for the
    # balances and the history only (models.READ_YOUR_WRITES), never for matching, so the
    # stuck model is not even in its way. (A wait that includes a stuck model is told so at
    # once instead of waiting out the bound: projections/read_models.py.)
    resident = {"Authorization": f"Bearer {issue_token(SECRET, Role.RESIDENT, world.payer_id)}"}
    started = time.monotonic()
    opened = httpx.post(
        f"{base}/v1/me/wallets", headers={**resident, "Idempotency-Key": "w2"}, timeout=30
    )
    assert opened.status_code == 201, opened.text
    assert "Kvit-Read-Models" not in opened.headers, opened.headers
    assert time.monotonic() - started < 5

    # A restart retries the model (a fixed version would go on) and reports it again; it
    # neither dies nor skips the event.
    assert runner.stop() == 0
    again = Process(env, "project")
    processes.append(again)
    again.expect("matching", "stuck", f"event {poisoned}")
    assert again.process.poll() is None
    assert positions(pg_settings)["matching"] == poisoned - 1
    assert httpx.get(f"{base}/readyz", timeout=10).json()["status"] == "stuck"
