"""The write routes' path on the event loop: the command to the writer, then read-your-writes.

With a writer (`kvit serve` on PostgreSQL) an `async def` route holds no thread from the body
to the answer: the command crosses the writer's channel on the loop
(ledger/engine/channel_async.py) and the wait for the read models is a future their progress
resolves (projections/waiting.py). A profile of a worker under wrk found the sync route's two
threadpool hand-offs and its per-request polling of the tracking table costing more than the
write itself. Without a writer (embedded mode) the command runs in a thread, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from fastapi import Response
from starlette.concurrency import run_in_threadpool

from api.deps import LAG_HEADER, POSITION_HEADER, REPLAYED_HEADER
from ledger.application import Ledger
from ledger.engine.command import Command
from ledger.engine.group_commit import Outcome
from projections import models
from projections.errors import ReadModelTimeoutError
from projections.read_models import ReadModels
from storage.log import head as log_head

R = TypeVar("R", bound=Mapping[str, Any])
log = logging.getLogger("kvit.api")


async def execute(ledger: Ledger, command: Command[R]) -> Outcome[R]:
    """Run the command in the writer, or, without one, in a thread."""
    if ledger.async_writer is not None:
        return await ledger.execute_async(command)
    return await run_in_threadpool(ledger.execute, command)


async def read_your_writes(
    outcome: Outcome[Any],
    response: Response,
    read_models: ReadModels,
    names: Iterable[str] = models.READ_YOUR_WRITES,
) -> int:
    """api/deps.py's `read_your_writes`, waiting on the loop: return once the read models a
    client reads next (`names`) include this write; a replay waits for the whole log as it is
    now. Returns the position waited for."""
    position = outcome.position
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"
        position = await run_in_threadpool(log_head, read_models.ledger)
    response.headers[POSITION_HEADER] = str(position)
    if position:
        read_models.wake()
        try:
            await read_models.wait_for_async(position, names)
        except ReadModelTimeoutError:
            # The write is committed: report success, never a failure the client might act on.
            log.warning("read models lag behind position %s", outcome.position)
            response.headers[LAG_HEADER] = "lagging"
    return position
