"""`kvit project` with several read models: one child process per read model, supervised.

Each child is `kvit project NAME`. A child that dies is restarted after a pause (a bounded
number of times a minute); one that reports another runner holds its projection (exit code 3,
with --exit-if-busy) stops them all. The children are tied to this process with
PR_SET_PDEATHSIG, so killing the supervisor, even with SIGKILL, kills them too.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

EXIT_BUSY = 3
RESTART_PAUSE = 1.0
MAX_RESTARTS_PER_MINUTE = 5
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _spawn(name: str, exit_if_busy: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "projections.cli", "project", name]
    if exit_if_busy:
        command.append("--exit-if-busy")
    # The supervisor has no other threads, so preexec_fn is safe here.
    return subprocess.Popen(command, preexec_fn=_die_with_parent)


def supervise(
    names: list[str], *, exit_if_busy: bool, stop: threading.Event, say: Callable[[str], None]
) -> int:
    """Run until `stop`; returns the exit code for the supervisor."""
    children = {name: _spawn(name, exit_if_busy) for name in names}
    restarts: dict[str, list[float]] = {name: [] for name in names}
    code = 0
    try:
        while not stop.is_set():
            for name, child in list(children.items()):
                returned = child.poll()
                if returned is None:
                    continue
                if returned == EXIT_BUSY:
                    say(f"runner {name} found its projection busy; stopping every runner")
                    return EXIT_BUSY
                recent = [t for t in restarts[name] if time.monotonic() - t < 60]
                if len(recent) >= MAX_RESTARTS_PER_MINUTE:
                    say(f"runner {name} keeps failing (exit {returned}); giving up")
                    return 1
                say(f"runner {name} exited with {returned}; restarting it in {RESTART_PAUSE}s")
                stop.wait(RESTART_PAUSE)
                restarts[name] = [*recent, time.monotonic()]
                children[name] = _spawn(name, exit_if_busy)
            stop.wait(0.2)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                code = 1
    return code
