"""Issue 21: `/readyz` reports a dead follower of the log.

In the failover run `kvit project` and `kvit audit follow` exited while `/readyz` stayed 200.
Each now beats a row about once a second (projections/followers.py); one silent for longer than
`KVIT_READ_FOLLOWER_SILENCE_SECONDS` makes `/readyz` 503 `follower_down`, naming it and its
last beat, and `kvit_follower_up` 0. Real processes on a real PostgreSQL: `kvit migrate`,
`kvit serve`, `kvit project`, `kvit audit follow`.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.settings import Settings
from projections import models
from tests.security.test_stuck_read_model import Process, serve
from tests.security.test_stuck_read_model import env as env  # a fixture

pytestmark = pytest.mark.postgres
SILENCE = 3.0  # twice or more the beat, so a live follower late under load is not down
PROJECT = {f"project:{name}" for name in models.NAMES}


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(10)


def until(probe: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def up(base: str, names: Iterable[str], value: int) -> bool:
    """Whether /metrics says `kvit_follower_up` is `value` for each of `names`."""
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    line = r'^kvit_follower_up\{{follower="{}"\}} {}\.0$'
    return all(re.search(line.format(re.escape(n), value), metrics, re.M) for n in names)


def readyz(base: str) -> httpx.Response:
    return httpx.get(f"{base}/readyz", timeout=10)


def down_exactly(base: str, names: set[str]) -> dict[str, Any] | None:
    """/readyz's problem when it is 503 naming exactly `names` as down, else None."""
    response = readyz(base)
    if response.status_code != 503:
        return None
    problem: dict[str, Any] = response.json()
    return problem if set(problem.get("followers_down", ())) == names else None


def test_a_killed_follower_makes_readyz_not_ready_until_it_is_back(
    pg_settings: Settings, env: dict[str, str], processes: list[Process], tmp_path: Path
) -> None:
    env = {**env, "KVIT_READ_FOLLOWER_SILENCE_SECONDS": str(SILENCE)}
    key = tmp_path / "audit-key"
    env["KVIT_AUDIT_SIGNING_KEY_FILE"] = str(key)
    keygen = Process(env, "audit", "keygen")
    assert keygen.process.wait(30) == 0, keygen.output
    project, audit = Process(env, "project"), Process(env, "audit", "follow")
    processes += [project, audit]
    base = serve(env, processes)
    until(lambda: readyz(base).status_code == 200, "/readyz to be ready")
    until(lambda: up(base, [*PROJECT, "audit"], 1), "every follower up in /metrics")

    project.process.send_signal(signal.SIGKILL)  # no goodbye: its rows stay, then fall silent
    project.process.wait(10)
    # Exactly the project's models are down: the audit follower is alive, though under load
    # one of its beats may come late for a moment; a reading that names it is not the answer.
    down = until(lambda: down_exactly(base, PROJECT), "the project's models, only, down")
    assert down["status"] == "follower_down", down
    last = down["followers_down"][f"project:{models.NAMES[0]}"]
    assert last["silent_seconds"] >= SILENCE and "pid" not in last, last  # /readyz is public
    assert last["seen_at"] >= last["started_at"], last
    metrics = httpx.get(f"{base}/metrics").text
    assert re.search(
        rf'^kvit_follower_up\{{follower="project:{models.NAMES[0]}"\}} 0\.0$', metrics, re.M
    )

    processes.append(Process(env, "project"))
    until(lambda: readyz(base).status_code == 200, "/readyz to recover with a new runner")

    # Stopped on purpose, a follower is no longer expected: still ready once it has gone.
    audit.stop()
    time.sleep(SILENCE + 1)
    assert readyz(base).status_code == 200, readyz(base).text
