"""Slow requests against a real `kvit serve`: connections that send their body (or their
headers) a byte at a time must not stay open for ever.

An unauthenticated request is refused with 401 before its body is read, and its connection is
closed; an authenticated request whose body has not arrived within
KVIT_REQUEST_RECEIVE_TIMEOUT_SECONDS gets 408 `request_timeout` and is closed. Meanwhile an
ordinary client is served.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from api.auth import Role, issue_token
from tests.processes import kvit_serve

SECRET = "slow-bodies-test-secret-key-long-enough-0123456789"
RECEIVE_SECONDS = 2.0
REGISTER_SECONDS = 3.0
CONNECTIONS = 20
DRIP_EVERY = 0.2
SLACK = 3.0
"""The deadline plus this is when every slow connection must be gone."""
GIVE_UP = RECEIVE_SECONDS + 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`kvit serve` on embedded SQLite with a short receive deadline; its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    env.update(
        KVIT_DATA_DIR=str(tmp_path_factory.mktemp("slow") / "var"),
        KVIT_SECRET_KEY=SECRET,
        KVIT_REQUEST_RECEIVE_TIMEOUT_SECONDS=str(RECEIVE_SECONDS),
        KVIT_REGISTER_RECEIVE_TIMEOUT_SECONDS=str(REGISTER_SECONDS),
    )
    with kvit_serve(env) as base:
        yield base


def operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, Role.OPERATOR)}"}


@dataclass
class Slow:
    """One connection that drips its request a byte at a time."""

    sock: socket.socket
    rest: bytes
    received: bytes = b""
    closed_after: float | None = None
    answered_after: float | None = None
    sent: int = field(default=0)

    @property
    def status(self) -> int | None:
        head = self.received.split(b"\r\n", 1)[0].split()
        return int(head[1]) if len(head) > 1 else None

    @property
    def problem(self) -> dict[str, object]:
        _, _, body = self.received.partition(b"\r\n\r\n")
        found: dict[str, object] = json.loads(body)
        return found


def open_slow(base: str, head: bytes, rest: bytes) -> Slow:
    port = int(base.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(head)
    sock.setblocking(False)
    return Slow(sock, rest)


def post_head(
    headers: dict[str, str],
    length: int,
    path: str = "/v1/suppliers",
    media: str = "application/json",
) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {media}",
        "Idempotency-Key: slow",
        f"Content-Length: {length}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def drip(slow: list[Slow], base: str) -> list[float]:
    """Send each connection one more byte every DRIP_EVERY seconds until the server closes it
    (or GIVE_UP passes); meanwhile time an ordinary client's reads. Returns those timings."""
    started = time.monotonic()
    served: list[float] = []
    with httpx.Client(base_url=base, headers=operator(), timeout=5) as client:
        while time.monotonic() - started < GIVE_UP and any(s.closed_after is None for s in slow):
            for s in slow:
                if s.closed_after is None:
                    _step(s, started)
            asked = time.monotonic()
            assert client.get("/v1/suppliers", params={"inn": "7701234560"}).status_code == 200
            served.append(time.monotonic() - asked)
            time.sleep(DRIP_EVERY)
    for s in slow:
        s.sock.close()
    return served


def _step(s: Slow, started: float) -> None:
    try:
        while select.select([s.sock], [], [], 0)[0]:
            chunk = s.sock.recv(65536)
            if not chunk:
                s.closed_after = time.monotonic() - started
                return
            if not s.received:
                s.answered_after = time.monotonic() - started
            s.received += chunk
        if s.sent < len(s.rest):
            s.sock.send(s.rest[s.sent : s.sent + 1])
            s.sent += 1
    except OSError:  # reset or broken pipe: the server closed it
        s.closed_after = time.monotonic() - started


def body(size: int) -> bytes:
    return b'{"name": "' + b"x" * (size - 12) + b'"}'


def test_unauthenticated_slow_bodies_get_401_at_once_and_are_closed(server: str) -> None:
    rest = body(1000)
    slow = [open_slow(server, post_head({}, len(rest)), rest) for _ in range(CONNECTIONS)]
    served = drip(slow, server)

    closed = [s.closed_after for s in slow]
    answered = [s.answered_after for s in slow]
    print(
        f"\n401: answered after ≤ {max(a or GIVE_UP for a in answered):.2f} s,"
        f" closed after ≤ {max(c or GIVE_UP for c in closed):.2f} s,"
        f" normal reads ≤ {max(served):.3f} s"
    )
    assert all(c is not None and c < 1.0 for c in closed), closed
    assert all(s.status == 401 for s in slow), [s.received[:80] for s in slow]
    assert all(s.sent < len(rest) for s in slow), "refused before the body was sent"
    assert {s.problem["code"] for s in slow} == {"unauthorized"}
    assert max(served) < 1.0


def test_authenticated_slow_bodies_get_408_by_the_deadline_and_are_closed(server: str) -> None:
    rest = body(1000)
    head = post_head(operator(), len(rest))
    slow = [open_slow(server, head, rest) for _ in range(CONNECTIONS)]
    served = drip(slow, server)

    closed = [s.closed_after for s in slow]
    print(
        f"\n408: closed after {min(c or GIVE_UP for c in closed):.2f}"
        f"–{max(c or GIVE_UP for c in closed):.2f} s (deadline {RECEIVE_SECONDS} s),"
        f" normal reads ≤ {max(served):.3f} s over {len(served)} reads"
    )
    assert all(c is not None and c < RECEIVE_SECONDS + SLACK for c in closed), closed
    assert all(c is not None and c >= RECEIVE_SECONDS - 0.5 for c in closed), closed
    assert all(s.status == 408 for s in slow), [s.received[:80] for s in slow]
    assert {s.problem["code"] for s in slow} == {"request_timeout"}
    assert max(served) < 1.0


def test_slow_headers_are_closed_by_the_deadline(server: str) -> None:
    head = post_head(operator(), 2)
    slow = [open_slow(server, b"", head + b"{}") for _ in range(CONNECTIONS)]
    served = drip(slow, server)

    closed = [s.closed_after for s in slow]
    print(
        f"\nheaders: closed after ≤ {max(c or GIVE_UP for c in closed):.2f} s,"
        f" normal reads ≤ {max(served):.3f} s"
    )
    assert all(c is not None and c < RECEIVE_SECONDS + SLACK for c in closed), closed
    assert all(s.sent < len(head) for s in slow), "closed before the headers were complete"
    assert max(served) < 1.0


def test_a_slow_notice_register_gets_408_by_its_own_deadline(server: str) -> None:
    rest = b"\n".join(b'{"line_no": %d}' % n for n in range(200))
    head = post_head(operator(), len(rest), "/v1/notices/batch", "application/jsonl")
    slow = [open_slow(server, head, rest) for _ in range(5)]
    served = drip(slow, server)

    closed = [s.closed_after for s in slow]
    print(
        f"\nregister: closed after ≤ {max(c or GIVE_UP for c in closed):.2f} s"
        f" (deadline {REGISTER_SECONDS} s), normal reads ≤ {max(served):.3f} s"
    )
    assert all(
        c is not None and REGISTER_SECONDS - 0.5 <= c < REGISTER_SECONDS + SLACK for c in closed
    ), closed
    assert all(s.status == 408 for s in slow), [s.received[:80] for s in slow]
    assert {s.problem["code"] for s in slow} == {"request_timeout"}


def test_a_body_that_arrives_in_time_keeps_its_connection(server: str) -> None:
    with httpx.Client(base_url=server, headers=operator(), timeout=5) as client:
        answers = [
            client.post("/v1/suppliers", json={}, headers={"Idempotency-Key": f"k{n}"})
            for n in range(2)
        ]

    assert [a.status_code for a in answers] == [422, 422]
    assert all(a.headers.get("connection") != "close" for a in answers)
