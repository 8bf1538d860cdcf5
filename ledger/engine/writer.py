"""The one writer of an event store: every API worker's commands, run by one thread against a
cache that is authoritative for what it wrote (the single-writer principle of LMAX and
TigerBeetle).

Two writer processes of one log only fight: each one's cached copies go stale under the
other's writes, and every conflict costs a re-run (a profile of one of two `serve` workers
spent 28 % of its time re-reading the store, 28 % in conflict handling). So `kvit serve` runs
one writer and its workers send it their commands over the channel (channel.py).

One thread reads each connection (a worker may have many requests in flight on one: each
frame carries its id); one committing thread takes everything queued, runs it as one batch
(batch.py: each command in a child unit of work, in arrival order, seeing the effects of those
before it, so two payments from one wallet in one batch are no conflict), saves it in one
transaction, and answers each caller with its outcome or its named error (the answers to one
connection in one write). While it saves, the next batch queues up: group commit without
leader hand-offs.

Correctness stays in the store: the save still proves every version it read, so a second
writer (a CLI import, a misconfigured second deployment) only makes a batch meet a conflict,
which re-runs it against the store (batch.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eventsourcing.persistence import OperationalError

from ledger.engine.batch import MAX_BATCH_COMMANDS, BatchItem
from ledger.engine.channel import (
    BATCH,
    ERROR,
    OK,
    ONE,
    ChannelClosedError,
    frame,
    read_frame,
)
from ledger.engine.command import Command
from storage.faults import cured_by_reconnecting


class Runs(Protocol):
    """What the writer runs commands on (the Ledger)."""

    def execute_batch_here(
        self, commands: Sequence[Command[Any]], *, prefetch_keys: bool = True
    ) -> list[BatchItem]: ...


MAX_BATCH = 256
"""Single commands run in one transaction at most (more wait for the next)."""
log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Link:
    """One worker's connection; answers to it are written whole, one writer at a time."""

    sock: socket.socket
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Request:
    request_id: int
    kind: str
    payload: Any
    link: _Link


class Writer:
    def __init__(self, app: Runs, path: Path | str) -> None:
        self.app = app
        self.path = Path(path)
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self.batches = 0
        self.commands = 0
        self.connections = 0

    def bind(self) -> None:
        """Listen on the socket, readable and writable by this user only."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket left behind by a writer that was killed
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        listener.listen(512)
        self._listener = listener

    def serve_forever(self) -> None:
        if self._listener is None:
            self.bind()
        assert self._listener is not None
        committer = threading.Thread(target=self._commit_loop, name="kvit-writer", daemon=True)
        committer.start()
        try:
            while not self._stopping.is_set():
                try:
                    conn, _ = self._listener.accept()
                except OSError:
                    if self._stopping.is_set():
                        break
                    raise
                self.connections += 1
                threading.Thread(
                    target=self._read_loop, args=(conn,), name="kvit-writer-conn", daemon=True
                ).start()
        finally:
            self._queue.put(None)
            committer.join(10)

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # --- one thread per connection: requests in, as they come ----------------------------------
    def _read_loop(self, conn: socket.socket) -> None:
        link = _Link(conn)
        with conn, conn.makefile("rb") as stream:
            while not self._stopping.is_set():
                try:
                    request_id, kind, payload = read_frame(stream)
                except (ChannelClosedError, OSError, ValueError, TypeError):
                    return  # closed, or not our protocol: the worker reconnects
                self._queue.put(_Request(request_id, kind, payload, link))

    # --- one committing thread -----------------------------------------------------------------
    def _commit_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            singles: list[_Request] = []
            batches: list[_Request] = []
            item: _Request | None = first
            while item is not None:
                (singles if item.kind == ONE else batches).append(item)
                if len(singles) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
            if singles:
                self._run_singles(singles)
            for request in batches:
                self._run_batch(request)

    def _run_singles(self, requests: list[_Request]) -> None:
        self.batches += 1
        self.commands += len(requests)
        try:
            items = self.app.execute_batch_here([r.payload for r in requests], prefetch_keys=False)
        except BaseException as error:  # every caller hears of it: none may wait forever
            self._answer_all([(request, ERROR, error) for request in requests])
            if not isinstance(error, Exception):
                raise
            return
        self._answer_all(
            [
                (request, OK, item.outcome) if item.error is None else (request, ERROR, item.error)
                for request, item in zip(requests, items, strict=True)
            ]
        )

    def _run_batch(self, request: _Request) -> None:
        if request.kind != BATCH:
            error = ValueError(f"unknown request {request.kind!r}")
            self._answer_all([(request, ERROR, error)])
            return
        self.batches += 1
        self.commands += min(len(request.payload), MAX_BATCH_COMMANDS)
        try:
            self._answer_all([(request, OK, self.app.execute_batch_here(request.payload))])
        except Exception as error:
            self._answer_all([(request, ERROR, error)])

    def _answer_all(self, answers: list[tuple[_Request, str, Any]]) -> None:
        """Every answer, each connection's in one write (a worker multiplexes its requests)."""
        out: dict[_Link, list[bytes]] = {}
        for request, status, payload in answers:
            out.setdefault(request.link, []).append(_reply(request.request_id, status, payload))
        for link, frames in out.items():
            try:
                with link.lock:
                    link.sock.sendall(b"".join(frames))
            except OSError:
                pass  # the caller went away: it answers 503 and its client retries with its key


def _reply(request_id: int, status: str, payload: Any) -> bytes:
    if status == ERROR and cured_by_reconnecting(payload):
        # Its cause (which tells a server in recovery apart) does not survive the pickle:
        # say what it means, a database fault a retry may cure (503 with Retry-After).
        payload = OperationalError(f"{type(payload).__name__}: {payload}")
    try:
        return frame((request_id, status, payload))
    except Exception as error:  # e.g. an unpicklable error: still answer, in words
        return frame((request_id, ERROR, RuntimeError(f"{type(error).__name__}: {error}")))
