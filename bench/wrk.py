"""Driving HTTP load with Debian's `wrk` (installed by the bench when missing) and reading the
one JSON line its Lua `done()` prints: requests, latency percentiles and answers by status."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCRIPTS = Path(__file__).with_name("wrk")
MARK = "KVIT-WRK "


def ensure_wrk() -> str:
    """The path of `wrk`; installs Debian's package when it is missing (the bench runs as root
    on Debian machines, as CI does)."""
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    for attempt in ([install], [["apt-get", "update", "-q"], install]):
        found = shutil.which("wrk")
        if found:
            return found
        for command in attempt:
            subprocess.run(command, capture_output=True, check=False, timeout=600)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


@dataclass
class WrkResult:
    name: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("2"))


def run_wrk(
    name: str,
    url: str,
    *,
    connections: int,
    seconds: int,
    script: str | None = None,
    args: tuple[str, ...] = (),
    threads: int = 2,
) -> WrkResult:
    command = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
    ]
    command += ["-s", str(SCRIPTS / (script or "read.lua")), url]
    if args:
        command += ["--", *args]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line[len(MARK) :])
    return WrkResult(
        name=name,
        connections=connections,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors=data["socket_errors"],
        statuses={str(k): v for k, v in data["statuses"].items()},
    )
