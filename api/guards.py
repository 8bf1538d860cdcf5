"""Checks made before a route reads its body: the time the body takes, the caller's token and
the body's size, in that order.

All are ASGI middleware, so a chunked body is counted as it streams (not only by its declared
Content-Length), and a request without a valid token gets 401 before its body is read at all
(FastAPI would otherwise parse the body first and answer 422; a slow sender would hold the
connection while it dripped).
"""

from __future__ import annotations

import asyncio
import json

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.bootstrap import Services
from api.callers import authenticate_caller
from api.problems import (
    PROBLEM_JSON,
    ApiProblem,
    PayloadTooLargeProblem,
    RequestTimeoutProblem,
    problem_body,
)

PUBLIC_PREFIXES = (
    "/v1/acquirer/",  # signed by the acquirer instead of a bearer token
    "/v1/audit/key",  # the transparency log's key and proofs: hashes, nothing about anyone
    "/v1/audit/proof/",
)


async def send_problem(scope: Scope, send: Send, error: ApiProblem) -> None:
    body = json.dumps(
        problem_body(
            scope.get("path", ""),
            status=error.status,
            code=error.code,
            title=error.title,
            detail=error.detail,
            **error.data,
        )
    ).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Bodies above `limit` are refused. Paths in `streamed` take larger bodies, which are not
    buffered here: their route reads the stream and enforces its own limit as it reads."""

    def __init__(self, app: ASGIApp, limit: int, streamed: dict[str, int] | None = None) -> None:
        self.app, self.limit, self.streamed = app, limit, streamed or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.streamed:
            limit = self.streamed[scope["path"]]
            declared = dict(scope["headers"]).get(b"content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                problem = PayloadTooLargeProblem(
                    f"bodies are limited to {limit} bytes", limit=limit
                )
                await send_problem(scope, send, problem)
                return
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLargeProblem(
            f"bodies are limited to {self.limit} bytes", limit=self.limit
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await send_problem(scope, send, too_large)
            return
        # Read the (small, bounded) body here, so that a chunked one is refused as soon as
        # it passes the limit, then hand it to the app as one message.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # a disconnect: let the app see it
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await send_problem(scope, send, too_large)
                return
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class RequireToken:
    """Every /v1 call names its caller (api/callers.py) before anything else reads it."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app, self.services = app, services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.startswith("/v1/")
            and not path.startswith(PUBLIC_PREFIXES)
        ):
            try:
                await authenticate_caller(HTTPConnection(scope), self.services)
            except ApiProblem as error:
                await send_problem(scope, send, error)
                return
        await self.app(scope, receive, send)


CLOSE = (b"connection", b"close")


def has_body(scope: Scope) -> bool:
    """Whether the request announced a body (HTTP/1.1: a length or a transfer coding)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return bool(value.strip() != b"0")
        if name == b"transfer-encoding":
            return True
    return False


class ReceiveDeadline:
    """A request's body must have arrived `seconds` after its headers (paths in `streamed`:
    their own bound), else 408 `request_timeout`. Any answer sent before the whole body came in
    (this 408, a 401, a 413) closes the connection: otherwise the server would go on taking a
    body nobody reads, and each byte would keep the connection open. Requests without a body
    pass straight through; a body costs one `asyncio.timeout` per message, no task."""

    def __init__(
        self, app: ASGIApp, seconds: float, streamed: dict[str, float] | None = None
    ) -> None:
        self.app, self.seconds, self.streamed = app, seconds, streamed or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_body(scope):
            await self.app(scope, receive, send)
            return
        seconds = self.streamed.get(scope["path"], self.seconds)
        deadline = asyncio.get_running_loop().time() + seconds
        pending, started = True, False

        async def timed_receive() -> Message:
            nonlocal pending
            if not pending:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeoutProblem(
                    f"the request body did not arrive within {seconds:g} s", seconds=seconds
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                pending = False
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if pending:
                    message = {**message, "headers": [*message.get("headers", ()), CLOSE]}
            await send(message)

        try:
            await self.app(scope, timed_receive, closing_send)
        except RequestTimeoutProblem as error:
            if started:
                raise
            await send_problem(scope, closing_send, error)
