"""The default deployment as an operator starts it, on a throwaway schema, for the HTTP bench:
`kvit migrate`, `kvit project`, `kvit audit follow`, `kvit mail` (optional) and
`kvit serve --workers 2`, each process named in pg_stat_activity (PGAPPNAME) so its
connections can be counted while it runs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

KVIT = str(Path(sys.executable).with_name("kvit"))
SECRET = "bench-secret-key-that-is-long-enough-for-hs256"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Deployment:
    base_url: str
    env: dict[str, str]
    tag: str
    logs: Path
    processes: list[Process] = field(default_factory=list)

    def kvit(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "PGAPPNAME": f"{self.tag}-{args[0]}-cli"}
        return subprocess.run(
            [KVIT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def start(self, name: str, *args: str) -> None:
        log = self.logs / f"{name}.log"
        env = {**self.env, "PGAPPNAME": f"{self.tag}-{name}"}
        popen = subprocess.Popen(
            [KVIT, *args], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
        )
        self.processes.append(Process(name, popen, log))

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.popen.poll() is not None:
                    raise RuntimeError(
                        f"{process.name} exited early:\n{process.log.read_text()[-3000:]}"
                    )
            try:
                if httpx.get(self.base_url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the deployment did not become ready in time")

    def stop(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.terminate()
        for process in self.processes:
            try:
                process.popen.wait(15)
            except subprocess.TimeoutExpired:
                process.popen.kill()
        self.processes.clear()


@contextmanager
def smtp_sink() -> Iterator[str]:
    """A local SMTP server that accepts every message and keeps none: somewhere for `kvit mail`
    to send to. Yields its URL."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        yield f"smtp://127.0.0.1:{smtp.port}"
    finally:
        smtp.stop()


def deployment_env(database_url: str, schema: str, data_dir: Path, port: int) -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    return {
        **os.environ,
        "KVIT_DATABASE_URL": database_url,
        "KVIT_DATABASE_SCHEMA": schema,
        "KVIT_DATA_DIR": str(data_dir),
        "KVIT_SECRET_KEY": SECRET,
        "KVIT_ACQUIRER_SECRET": "bench-acquirer-secret-that-is-long-enough-too",
        "KVIT_PUBLIC_URL": base,
        "KVIT_AUDIT_SIGNING_KEY": "42" * 32,
    }


@contextmanager
def running(
    database_url: str, schema: str, work: Path, *, mail_url: str | None, workers: int = 2
) -> Iterator[Deployment]:
    """Migrate the schema, then start every process; stops them all on the way out."""
    port = free_port()
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = deployment_env(database_url, schema, work / "var", port)
    if mail_url:
        env["KVIT_SMTP_URL"] = mail_url
    deployment = Deployment(f"http://127.0.0.1:{port}", env, schema, logs)
    migrated = deployment.kvit("migrate")
    if migrated.returncode != 0:
        raise RuntimeError(f"kvit migrate failed: {migrated.stderr}")
    try:
        deployment.start("project", "project")
        deployment.start("audit", "audit", "follow")
        if mail_url:
            deployment.start("mail", "mail")
        deployment.start("serve", "serve", "--port", str(port), "--workers", str(workers))
        deployment.wait_ready()
        yield deployment
    finally:
        deployment.stop()


def connections(database_url: str, prefix: str) -> Counter[str]:
    """Open PostgreSQL connections whose application_name starts with `prefix`, by name."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as connection:
        rows = connection.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE application_name LIKE %s GROUP BY application_name",
            [prefix.replace("_", r"\_") + "-%"],
        ).fetchall()
    return Counter({name: count for name, count in rows})


class ConnectionSampler(threading.Thread):
    """Samples the deployment's connections every `every` seconds; keeps the peak total."""

    def __init__(self, database_url: str, prefix: str, every: float = 0.25) -> None:
        super().__init__(name="connection-sampler", daemon=True)
        self.database_url, self.prefix, self.every = database_url, prefix, every
        self.peak = 0
        self.peak_by_process: Counter[str] = Counter()
        self.stopping = threading.Event()

    def sample(self) -> int:
        counts = connections(self.database_url, self.prefix)
        # The CLI's own short-lived connections (verify, replay) are not the deployment's.
        deployment = {k: v for k, v in counts.items() if not k.endswith("-cli")}
        total = sum(deployment.values())
        if total > self.peak:
            self.peak, self.peak_by_process = total, Counter(deployment)
        return total

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            with suppress(psycopg.Error):
                self.sample()

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
