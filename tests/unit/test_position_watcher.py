"""Read-your-writes waits (projections/waiting.py): event-loop waiters are woken by the
positions' progress without holding a thread, and the safety-net re-read of the tracking table
is one query for every waiter of the process, not one per waiting request."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from projections.errors import ReadModelTimeoutError
from projections.waiting import PositionWatcher

NAMES = ("balances", "history")


def test_an_async_wait_is_woken_by_progress_from_another_thread() -> None:
    watcher = PositionWatcher(NAMES)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(
            0.02, threading.Thread(target=watcher.advance, args=({"balances": 5},)).start
        )
        loop.call_later(
            0.04, threading.Thread(target=watcher.advance, args=({"history": 7},)).start
        )
        await watcher.wait_for_async(5, NAMES, timeout=5)

    asyncio.run(main())

    assert watcher.position(NAMES) == 5


def test_an_async_wait_only_for_the_named_models() -> None:
    watcher = PositionWatcher(NAMES)
    watcher.advance({"balances": 9})

    asyncio.run(watcher.wait_for_async(9, ("balances",), timeout=0.01))  # at once

    with pytest.raises(ReadModelTimeoutError) as raised:
        asyncio.run(watcher.wait_for_async(9, NAMES, timeout=0.05))
    assert raised.value.data["reached"] == {"balances": 9, "history": 0}


def test_many_waiters_share_one_re_read_of_the_positions() -> None:
    """No notification comes: the refresher finds the position, once, for all of them."""
    reads: list[float] = []

    def refresh() -> dict[str, int]:
        reads.append(time.monotonic())
        return dict.fromkeys(NAMES, 3)

    watcher = PositionWatcher(NAMES, refresh=refresh)
    threads = [threading.Thread(target=watcher.wait_for, args=(3, NAMES, 5)) for _ in range(8)]

    async def main() -> None:
        for thread in threads:
            thread.start()
        await asyncio.gather(*(watcher.wait_for_async(3, NAMES, timeout=5) for _ in range(8)))

    asyncio.run(main())
    for thread in threads:
        thread.join(5)

    assert len(reads) == 1
    assert watcher.position(NAMES) == 3
    watcher.close()


def test_many_waiting_threads_share_one_re_read_of_the_positions() -> None:
    reads: list[float] = []

    def refresh() -> dict[str, int]:
        reads.append(time.monotonic())
        return dict.fromkeys(NAMES, 3)

    watcher = PositionWatcher(NAMES, refresh=refresh)
    threads = [threading.Thread(target=watcher.wait_for, args=(3, NAMES, 5)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert len(reads) == 1
    watcher.close()
