"""An event-loop worker's end of the writer's channel (channel.py): every request of the loop on
one connection, each frame with its id, the answers matched back by a reader task.

So a write route awaits the writer without a thread: no threadpool hand-off, no idle
connection pool, and the writer reads one connection per worker rather than one per
concurrent caller. Frames and errors are channel.py's.

The connection belongs to the event loop that opened it (a test client runs its own loop), so
the client keeps one per loop. A request whose connection is cut, or that is not answered within
the timeout, may or may not have committed: `WriterUnavailableError` (503 with Retry-After), and
the client's retry with its idempotency key is a replay if it did. The next request connects
anew; while the writer is down, that is refused at once, with the same error.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger.engine.channel import (
    BATCH,
    CONNECT_TIMEOUT,
    ERROR,
    HEADER,
    MAX_FRAME,
    ONE,
    REPLY_TIMEOUT,
    frame,
)
from ledger.errors import WriterUnavailableError


def _not_answered() -> WriterUnavailableError:
    return WriterUnavailableError(
        "the writer did not answer; retry with the same Idempotency-Key", retry_after=1
    )


def _expire(answer: asyncio.Future[tuple[str, Any]]) -> None:
    if not answer.done():
        answer.set_exception(_not_answered())


class _Link:
    """One open connection and the requests waiting for their answers on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.pending: dict[int, asyncio.Future[tuple[str, Any]]] = {}
        self.next_id = 0
        self.open = True
        self._outbox: list[bytes] = []
        self._reading = asyncio.get_running_loop().create_task(self._read(reader))

    async def call(self, kind: str, payload: Any, timeout: float) -> tuple[str, Any]:
        request_id, self.next_id = self.next_id, self.next_id + 1
        data = frame((request_id, kind, payload))  # an unpicklable command raises here
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[str, Any]] = loop.create_future()
        self.pending[request_id] = answer
        expiry = loop.call_later(timeout, _expire, answer)
        try:
            self._send(data)
            return await answer
        finally:
            expiry.cancel()
            self.pending.pop(request_id, None)

    def _send(self, data: bytes) -> None:
        """The requests of one turn of the loop go out in one write (one system call)."""
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.append(data)

    def _flush(self) -> None:
        data, self._outbox = b"".join(self._outbox), []
        if self.open:
            self.writer.write(data)  # a cut shows up in _read, which fails whoever waits

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
                if size > MAX_FRAME:
                    return
                request_id, status, payload = pickle.loads(await reader.readexactly(size))
                answer = self.pending.pop(request_id, None)
                if answer is not None and not answer.done():
                    answer.set_result((status, payload))
        except (Exception, asyncio.CancelledError):
            pass  # cut, or not understood: either way nothing more is read from it
        finally:
            self.close()

    def close(self) -> None:
        """Closed for good: whoever still waits hears that the writer did not answer."""
        self.open = False
        with contextlib.suppress(RuntimeError):  # its loop is closed: so is the socket
            self.writer.close()
        pending, self.pending = self.pending, {}
        for answer in pending.values():
            if not answer.done():
                answer.set_exception(_not_answered())


class AsyncWriterClient:
    """`await execute(command)` and `await execute_batch(commands)` run in the writer."""

    def __init__(self, path: Path | str, *, timeout: float = REPLY_TIMEOUT) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Link] = (
            weakref.WeakKeyDictionary()
        )
        self._connecting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def execute(self, command: Any) -> Any:
        return await self._call(ONE, command)

    async def execute_batch(self, commands: Sequence[Any]) -> Any:
        return await self._call(BATCH, list(commands))

    async def _call(self, kind: str, payload: Any) -> Any:
        link = await self._link()
        status, result = await link.call(kind, payload, self.timeout)
        if status == ERROR:
            raise result
        return result

    async def _link(self) -> _Link:
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is not None and link.open:
            return link
        lock = self._connecting.setdefault(loop, asyncio.Lock())
        async with lock:  # one connection per loop, however many callers find none
            link = self._links.get(loop)
            if link is None or not link.open:
                link = _Link(*await self._connect())
                self._links[loop] = link
            return link

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.wait_for(asyncio.open_unix_connection(self.path), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise WriterUnavailableError(
                "the writer is not running; retry shortly", retry_after=1
            ) from error

    def close(self) -> None:
        """Close every loop's connection, each on its own loop if that one is running."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, link in list(self._links.items()):
            if loop.is_closed():
                continue
            if loop.is_running() and loop is not current:
                loop.call_soon_threadsafe(link.close)
            else:
                link.close()
        self._links.clear()
