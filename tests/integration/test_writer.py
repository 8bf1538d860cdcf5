"""The one writer: API workers' commands run in the writer process over a Unix socket, each
caller gets its own outcome or its own named error, and correctness stays in the store (a
second writer beside it only costs a re-run)."""

from __future__ import annotations

import asyncio
import socket
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.engine.channel import WriterClient
from ledger.engine.writer import Writer
from ledger.errors import InsufficientFundsError, WriterUnavailableError
from ledger.payments.commands import OpenWallet
from ledger.settings import Settings
from tests.fixtures import World, setup_world, top_up, wallet_payment


@dataclass
class Running:
    server: Writer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(10)


def start_writer(app: Ledger, path: Path) -> Running:
    server = Writer(app, path)
    server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Running(server, thread)


@dataclass
class Setup:
    writer_app: Ledger
    worker: Ledger
    world: World
    path: Path
    running: Running


@pytest.fixture
def setup(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Setup]:
    writer_app = build_ledger(sqlite_settings)
    writer_app.aggregate_cache.distrust_seconds = 0.0
    world = setup_world(writer_app, wallet_balance=1_000)
    path = tmp_path / "writer.sock"
    running = start_writer(writer_app, path)
    worker = build_ledger(sqlite_settings)
    worker.use_writer(WriterClient(path, timeout=10))
    yield Setup(writer_app, worker, world, path, running)
    worker.close()
    running.stop()
    writer_app.close()


def pay(ledger: Ledger, world: World, key: str, amount: int = 100) -> Any:
    return ledger.execute(wallet_payment(world, key, amount=amount))


def test_a_workers_command_runs_in_the_writer_and_answers_with_its_position(
    setup: Setup,
) -> None:
    before = setup.running.server.commands
    outcome = pay(setup.worker, setup.world, "k1")

    assert outcome.result["status"] == "succeeded"
    assert outcome.position > 0
    assert setup.running.server.commands == before + 1
    assert setup.worker.get_wallet(setup.world.wallet_id).balance == 900
    replay = pay(setup.worker, setup.world, "k1")
    assert replay.result["replayed"] is True
    assert setup.worker.get_wallet(setup.world.wallet_id).balance == 900


def test_a_named_error_comes_back_with_its_data(setup: Setup) -> None:
    with pytest.raises(InsufficientFundsError) as raised:
        pay(setup.worker, setup.world, "big", amount=5_000)

    assert raised.value.code == "insufficient_funds"
    assert raised.value.data  # the ids and amounts travel with it
    assert setup.worker.get_wallet(setup.world.wallet_id).balance == 1_000


def test_concurrent_payments_from_one_wallet_take_turns_in_the_writer(setup: Setup) -> None:
    def attempt(n: int) -> str:
        try:
            pay(setup.worker, setup.world, f"c{n}")
        except InsufficientFundsError:
            return "insufficient"
        return "paid"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(attempt, range(12)))

    assert answers.count("paid") == 10
    assert answers.count("insufficient") == 2
    assert setup.worker.get_wallet(setup.world.wallet_id).balance == 0


def test_a_second_writer_beside_it_only_costs_a_re_run(
    setup: Setup, sqlite_settings: Settings
) -> None:
    pay(setup.worker, setup.world, "first")  # the writer now holds the wallet in its cache
    other = build_ledger(sqlite_settings)  # e.g. a CLI import writing the same store
    try:
        top_up(other, setup.world.wallet_id, setup.world.payer_id, 500, key="beside")
        pay(other, setup.world, "by-the-other", amount=1_300)
    finally:
        other.close()

    # The writer's cached wallet (900) is stale: the store says 100. Its save must fail and
    # re-run on the store, never pay from money that is gone.
    with pytest.raises(InsufficientFundsError):
        pay(setup.worker, setup.world, "stale", amount=200)
    pay(setup.worker, setup.world, "fits", amount=100)
    assert setup.worker.get_wallet(setup.world.wallet_id).balance == 0


def test_the_socket_is_private_to_its_user(setup: Setup) -> None:
    assert stat.S_IMODE(setup.path.stat().st_mode) == 0o600


def test_while_the_writer_is_down_writes_are_refused_as_unavailable_then_resume(
    setup: Setup,
) -> None:
    pay(setup.worker, setup.world, "before")  # leaves an idle connection to the old writer
    setup.running.stop()

    with pytest.raises(WriterUnavailableError) as raised:
        pay(setup.worker, setup.world, "while-down")
    assert raised.value.data["retry_after"] == 1

    setup.running = start_writer(setup.writer_app, setup.path)
    assert pay(setup.worker, setup.world, "while-down").result["status"] == "succeeded"
    assert setup.worker.get_wallet(setup.world.wallet_id).balance == 800


# --- an event-loop worker's end (ledger/engine/channel_async.py) --------------------------------
async def pay_async(ledger: Ledger, world: World, key: str, amount: int = 100) -> Any:
    return await ledger.execute_async(wallet_payment(world, key, amount=amount))


def test_a_loops_concurrent_commands_share_one_connection_each_with_its_own_answer(
    setup: Setup,
) -> None:
    async def attempt(n: int) -> str:
        try:
            outcome = await pay_async(setup.worker, setup.world, f"a{n}")
        except InsufficientFundsError as error:
            assert error.data  # the named error, with its data, to this caller only
            return "insufficient"
        assert outcome.position > 0
        return "paid"

    async def main() -> list[str]:
        return await asyncio.gather(*(attempt(n) for n in range(12)))

    before = setup.running.server.connections
    answers = asyncio.run(main())

    assert sorted(answers) == ["insufficient"] * 2 + ["paid"] * 10
    assert setup.running.server.connections == before + 1
    assert setup.worker.get_wallet(setup.world.wallet_id).balance == 0


def test_on_the_loop_a_replay_answers_the_original_result(setup: Setup) -> None:
    async def twice() -> tuple[Any, Any]:
        return await pay_async(setup.worker, setup.world, "k"), await pay_async(
            setup.worker, setup.world, "k"
        )

    first, again = asyncio.run(twice())

    assert first.position > 0 and not first.replayed
    assert again.replayed and again.result["id"] == first.result["id"]
    assert setup.worker.get_wallet(setup.world.wallet_id).balance == 900


def test_on_the_loop_while_the_writer_is_down_writes_are_refused_then_resume(
    setup: Setup,
) -> None:
    async def down_then_up() -> tuple[list[WriterUnavailableError], Any]:
        await pay_async(setup.worker, setup.world, "before")  # leaves the loop's connection
        setup.running.stop()
        refused = []
        for _ in range(2):  # on the connection the writer had, then on none
            with pytest.raises(WriterUnavailableError) as raised:
                await pay_async(setup.worker, setup.world, "while-down")
            refused.append(raised.value)
        setup.running = start_writer(setup.writer_app, setup.path)
        return refused, await pay_async(setup.worker, setup.world, "while-down")

    refused, resumed = asyncio.run(down_then_up())

    assert [error.data["retry_after"] for error in refused] == [1, 1]
    assert "did not answer" in refused[0].message and "not running" in refused[1].message
    assert resumed.result["status"] == "succeeded" and not resumed.replayed
    assert setup.worker.get_wallet(setup.world.wallet_id).balance == 800


def test_on_the_loop_an_unanswered_request_is_unavailable_after_the_timeout(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "silent.sock"
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # accepts, never answers
    silent.bind(str(path))
    silent.listen(1)
    worker = build_ledger(sqlite_settings)
    worker.use_writer(WriterClient(path, timeout=0.2))
    try:
        with pytest.raises(WriterUnavailableError) as raised:
            asyncio.run(worker.execute_async(OpenWallet(payer_id="p-1", idempotency_key="slow")))
        assert "did not answer" in raised.value.message
    finally:
        worker.close()
        silent.close()
