"""Real processes in tests: a free port, `kvit serve` started and waited for, and stopping
what a test started, so that each harness does not write its own polling loop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

KVIT = str(Path(sys.executable).with_name("kvit"))
READY_SECONDS = 60.0  # a loaded 2-core machine took 14 s to start one `kvit serve`
STOP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(
    base: str,
    seconds: float = READY_SECONDS,
    *,
    path: str = "/readyz",
    watch: Iterable[subprocess.Popen[Any]] = (),
    said: Callable[[], str] = str,
) -> float:
    """How many seconds passed until `base + path` answered 200. Fails when one of `watch`
    exits first or `seconds` pass, showing what `said` returns (the processes' output)."""
    started = time.monotonic()
    while True:
        try:
            answer = httpx.get(base + path, timeout=2)
            if answer.status_code == 200:
                return time.monotonic() - started
            last = f"{answer.status_code} {answer.text[:500]}"
        except httpx.TransportError as error:
            last = repr(error)
        exited = [process.args for process in watch if process.poll() is not None]
        if exited:
            raise AssertionError(f"{exited} exited before {path} answered:\n{said()}")
        if time.monotonic() - started > seconds:
            raise AssertionError(
                f"{base}{path} did not answer 200 within {seconds}s (last: {last}):\n{said()}"
            )
        time.sleep(0.1)


def stop_all(*processes: subprocess.Popen[Any], grace: float = STOP_SECONDS) -> None:
    """SIGTERM to each that still runs, then SIGKILL to any not gone within `grace`."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)


def launch(env: dict[str, str], logs: Path, *args: str) -> subprocess.Popen[bytes]:
    """`kvit ARGS…` with `env`, its output to a new file in `logs` named after its command."""
    with (logs / f"{args[0]}-{time.monotonic_ns()}.log").open("w") as output:
        return subprocess.Popen([KVIT, *args], env=env, stdout=output, stderr=subprocess.STDOUT)


def read_logs(logs: Path, tail: int = 5000) -> str:
    """The end of each log in `logs`, each under its name."""
    return "".join(f"--- {log.name}\n{log.read_text()[-tail:]}\n" for log in sorted(logs.iterdir()))


@contextmanager
def kvit_serve(
    env: dict[str, str],
    *args: str,
    port: int | None = None,
    log: Path | None = None,
    cwd: Path | None = None,
) -> Iterator[str]:
    """`kvit serve ARGS… --port PORT` (default: a free port) with `env`, its output to `log`
    (or nowhere); its loopback base URL once /readyz answers 200. Stopped on the way out."""
    port = port or free_port()
    with log.open("w") if log else open(os.devnull, "w") as output:
        process = subprocess.Popen(
            [KVIT, "serve", *args, "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, watch=[process], said=log.read_text if log else str)
        yield base
    finally:
        stop_all(process)
