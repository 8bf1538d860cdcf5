"""The HTTP protocol `kvit serve` runs: uvicorn's httptools protocol with a bound on the time a
request's headers may take.

uvicorn bounds only the idle time between requests (`timeout_keep_alive`, and only after a
first response); a client that opens a connection and sends nothing, or sends its headers a
byte at a time, holds the connection for ever. Here the headers must be complete
KVIT_REQUEST_RECEIVE_TIMEOUT_SECONDS after the connection opens or the request's first byte;
the body's own bound is the app's (api/guards.py, ReceiveDeadline), which can answer with a
problem.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.problems import PROBLEM_JSON, RequestTimeoutProblem, problem_body
from api.settings import ApiSettings


@cache
def header_seconds() -> float:
    """Read once per process: workers are spawned, so they take it from the environment too."""
    return ApiSettings().request_receive_timeout_seconds


def timeout_response(seconds: float) -> bytes:
    error = RequestTimeoutProblem(f"the request headers did not arrive within {seconds:g} s")
    body = json.dumps(
        problem_body(
            "", status=error.status, code=error.code, title=error.title, detail=error.detail
        )
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"content-type: {PROBLEM_JSON}\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class HeaderDeadlineProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_seconds = header_seconds()
        self.header_timer: asyncio.TimerHandle | None = None
        self.request_begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.request_begun = True
        if self.header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        self.request_begun = False
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self.header_timer = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _too_slow(self) -> None:
        self.header_timer = None
        if self.transport.is_closing():
            return
        if self.request_begun:  # a request is half in: say why it ends
            self.transport.write(timeout_response(self.header_seconds))
        self.transport.close()
