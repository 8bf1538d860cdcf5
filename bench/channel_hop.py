"""CPU per round trip on the writer's channel: the blocking client from a thread pool (as a sync
route called it) against the event loop's client (one connection, request ids), both talking to
a writer whose app answers at once, so only the hop is measured.

    .venv/bin/python -m bench.channel_hop [--calls 4000] [--concurrency 32]

Both ends run in this process: the CPU is the process's (client, writer threads and all) per
call, which is steadier than a rate on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvloop

from ledger.engine.batch import BatchItem
from ledger.engine.channel import WriterClient
from ledger.engine.channel_async import AsyncWriterClient
from ledger.engine.group_commit import Outcome
from ledger.engine.writer import Writer
from ledger.payments.commands import OpenWallet

WARM = 200


class Instant:
    """A writer's app that answers every command at once."""

    def execute_batch_here(
        self, commands: Sequence[Any], *, prefetch_keys: bool = True
    ) -> list[BatchItem]:
        outcome = Outcome({"wallet_id": "0" * 36, "status": "succeeded"}, 1)
        return [BatchItem(outcome=outcome, error=None) for _ in commands]


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def blocking(path: Path, calls: int, concurrency: int) -> float:
    client = WriterClient(path)
    command = OpenWallet(payer_id="p", idempotency_key="k")
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: client.execute(command), range(WARM)))
        started = cpu_seconds()
        list(pool.map(lambda _: client.execute(command), range(calls)))
        used = cpu_seconds() - started
    client.close()
    return used


def on_the_loop(path: Path, calls: int, concurrency: int) -> float:
    client = AsyncWriterClient(path)
    command = OpenWallet(payer_id="p", idempotency_key="k")

    async def run(n: int) -> None:
        slots = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with slots:
                await client.execute(command)

        await asyncio.gather(*(one() for _ in range(n)))

    async def measured() -> float:
        await run(WARM)
        started = cpu_seconds()
        await run(calls)
        used = cpu_seconds() - started
        client.close()
        await asyncio.sleep(0)  # the reader task sees its connection closed
        return used

    return uvloop.run(measured())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    for name, run in (("threads + blocking client", blocking), ("event loop client", on_the_loop)):
        path = Path(tempfile.mkdtemp(prefix="kvit-hop-")) / "writer.sock"
        writer = Writer(Instant(), path)
        writer.bind()
        threading.Thread(target=writer.serve_forever, daemon=True).start()
        used = run(path, args.calls, args.concurrency)
        writer.stop()
        print(
            f"{name}: {1e6 * used / args.calls:.0f} µs CPU per call,"
            f" {writer.commands / writer.batches:.1f} calls per writer batch,"
            f" load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
