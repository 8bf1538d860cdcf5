"""The local channel between the API workers and the one writer process: a Unix socket in the
data directory (mode 0600), length-prefixed frames.

Frames are pickled: both ends are our own processes, on a private socket, and the commands are
frozen dataclasses of `ledger/*/commands.py` (results are plain dicts, errors `LedgerError`s).
A request is `(id, ONE, command)` or `(id, BATCH, [command, …])`; its reply is `(id, OK,
outcome)`, `(id, OK, [BatchItem, …])` or `(id, ERROR, exception)`. The id lets one connection
carry many requests at once, answered in any order: an event-loop worker sends all of its
requests on one connection (channel_async.py); this blocking client sends one at a time per
connection and keeps a few idle ones (one per concurrent caller).

A connection cut before the request was sent is retried on a new one; one cut after it was sent
may or may not have committed, so the caller gets `WriterUnavailableError` (503 with
Retry-After) and retries with its idempotency key, which turns a committed write into a replay.
"""

from __future__ import annotations

import itertools
import pickle
import select
import socket
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from ledger.errors import WriterUnavailableError

HEADER = struct.Struct("!I")
MAX_FRAME = 256 * 1024 * 1024
ONE, BATCH = "one", "batch"
OK, ERROR = "ok", "error"
REPLY_TIMEOUT = 60.0
"""Seconds a caller waits for the writer's answer (a batch of 5,000 commands included)."""
CONNECT_TIMEOUT = 1.0
IDLE_CONNECTIONS = 64


class ChannelClosedError(ConnectionError):
    """The other end closed the connection."""


def frame(payload: Any) -> bytes:
    """`payload` pickled, behind its length."""
    data = pickle.dumps(payload, pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def send_frame(sock: socket.socket, payload: Any) -> None:
    sock.sendall(frame(payload))


def recv_frame(sock: socket.socket) -> Any:
    (size,) = HEADER.unpack(_recv_exactly(sock, HEADER.size))
    if size > MAX_FRAME:
        raise ChannelClosedError(f"a frame of {size} bytes is over the limit")
    return pickle.loads(_recv_exactly(sock, size))  # our own processes, a 0600 socket


def read_frame(stream: BinaryIO) -> Any:
    """`recv_frame` from a buffered reader of the socket: frames sent back to back (an event
    loop's requests) come in with one read, not two system calls each."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise ChannelClosedError("the connection was closed")
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ChannelClosedError(f"a frame of {size} bytes is over the limit")
    data = stream.read(size)
    if len(data) < size:
        raise ChannelClosedError("the connection was closed")
    return pickle.loads(data)  # our own processes, a 0600 socket


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise ChannelClosedError("the connection was closed")
        got += n
    return bytes(buffer)


class WriterClient:
    """An API worker's end: `execute(command)` and `execute_batch(commands)` run in the writer."""

    def __init__(self, path: Path | str, *, timeout: float = REPLY_TIMEOUT) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()
        self._ids = itertools.count()

    def execute(self, command: Any) -> Any:
        return self._call((ONE, command))

    def execute_batch(self, commands: Sequence[Any]) -> Any:
        return self._call((BATCH, list(commands)))

    def _call(self, request: tuple[str, Any]) -> Any:
        request_id = next(self._ids)
        sock = self._take()
        try:
            send_frame(sock, (request_id, *request))
            answered, status, payload = recv_frame(sock)
            if answered != request_id:
                raise ChannelClosedError(f"the answer to {answered}, not to {request_id}")
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            sock.close()
            raise WriterUnavailableError(
                "the writer did not answer; retry with the same Idempotency-Key",
                retry_after=1,
            ) from error
        self._give_back(sock)
        if status == ERROR:
            raise payload
        return payload

    def _take(self) -> socket.socket:
        while True:
            with self._lock:
                sock = self._idle.pop() if self._idle else None
            if sock is None:
                return self._connect()
            if _still_open(sock):
                return sock
            sock.close()  # the writer restarted since: nothing was sent on it

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(self.path)
        except OSError as error:
            sock.close()
            raise WriterUnavailableError(
                "the writer is not running; retry shortly", retry_after=1
            ) from error
        sock.settimeout(self.timeout)
        return sock

    def _give_back(self, sock: socket.socket) -> None:
        with self._lock:
            if len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(sock)
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()


def _still_open(sock: socket.socket) -> bool:
    """An idle connection has nothing to read unless its peer closed it (EOF reads as ready)."""
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable
