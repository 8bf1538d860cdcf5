"""What the numbers were measured on: without these a result file cannot be compared."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import version
from typing import Any

from bench.pg import server_facts


def _git(*args: str) -> str:
    completed = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    return completed.stdout.strip()


def machine_facts(database_url: str) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgres": server_facts(database_url),
        "pgbench": subprocess.run(
            ["pgbench", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "packages": {name: version(name) for name in ("eventsourcing", "psycopg", "rich")},
        "commit": _git("rev-parse", "HEAD"),
        "worktree_dirty": worktree_dirty(),
        # A shared 2-core machine: other work running beside the bench skews every number.
        "loadavg_at_start": os.getloadavg(),
    }


def worktree_dirty() -> bool:
    """Others edit this checkout too: whether the numbers are for exactly that commit."""
    return bool(_git("status", "--porcelain", "--untracked-files=no"))
