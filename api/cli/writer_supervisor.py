"""`kvit serve` on PostgreSQL keeps one writer process running beside its workers: started
before them, restarted (with a short backoff) whenever it exits, stopped with them.

While it is down its socket does not answer, and writes answer 503 `writer_unavailable` with
Retry-After; the client's retry with its Idempotency-Key is a replay if the write committed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

SOCKET_NAME = "writer.sock"
READY_SECONDS = 30.0
PR_SET_PDEATHSIG = 1


def socket_path(data_dir: Path) -> Path:
    return data_dir.resolve() / SOCKET_NAME


def _die_with_parent() -> None:
    """In the child: a SIGKILLed `kvit serve` takes its writer with it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class WriterSupervisor(threading.Thread):
    def __init__(self, path: Path, env: dict[str, str]) -> None:
        super().__init__(name="kvit-writer-supervisor", daemon=True)
        self.path = path
        self.env = env
        self.stopping = threading.Event()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        with self._lock:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "writer", "--socket", str(self.path)],
                env=self.env,
                preexec_fn=_die_with_parent,  # only prctl runs in the child
            )
            self.starts += 1
            return self.process

    def wait_ready(self, timeout: float = READY_SECONDS) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.path.exists():
                return True
            time.sleep(0.05)
        return False

    def run(self) -> None:
        delay = 0.2
        process = self.process
        while process is not None and not self.stopping.is_set():
            started = time.monotonic()
            code = process.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - started > 10:
                delay = 0.2  # it ran a while: a fresh failure, not a crash loop
            print(f"kvit: the writer exited ({code}); restarting it", file=sys.stderr)
            self.stopping.wait(delay)
            delay = min(5.0, delay * 2)
            if not self.stopping.is_set():
                process = self._start()

    def start_writer(self) -> None:
        """Start the first writer, then watch it."""
        self._start()
        self.start()

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.join(5)


def writer_env(pool_size: int | None) -> dict[str, str]:
    env = dict(os.environ)
    if pool_size is not None:
        env["KVIT_DATABASE_POOL_SIZE"] = str(pool_size)
    return env
