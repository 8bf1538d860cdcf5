"""CPU seconds per role of a running deployment, read from /proc: CPU per operation is far
steadier than a rate on a shared 2-core machine.

Roles: the API workers (uvicorn's children of `kvit serve`), the writer (`kvit writer`, a
child of `kvit serve`), `kvit project`, `kvit audit follow`, `kvit mail`, and PostgreSQL: the
server backends of the deployment's connections (pg_stat_activity by application_name).
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def role_pids(processes: dict[str, int], database_url: str, prefix: str) -> dict[int, str]:
    """Every pid of the deployment with its role. `processes` maps a started process's name
    (serve, project, audit, mail) to its pid."""
    tree = _children()
    roles: dict[int, str] = {}
    for name, pid in processes.items():
        if name != "serve":
            roles[pid] = name
            continue
        roles[pid] = "api"  # the supervisor's own CPU counts with the workers
        stack = list(tree.get(pid, []))
        while stack:
            child = stack.pop()
            roles[child] = "writer" if " writer" in _cmdline(child) else "api"
            stack.extend(tree.get(child, []))
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name LIKE %s"
            " AND application_name NOT LIKE %s",
            [prefix.replace("_", r"\_") + "-%", "%-cli"],
        ).fetchall()
    for (pid,) in rows:
        roles[int(pid)] = "postgres"
    return roles


class CpuMeter:
    """Accumulates CPU seconds by role over the windows it is asked to measure."""

    def __init__(self, database_url: str, prefix: str) -> None:
        self.database_url, self.prefix = database_url, prefix
        self.seconds: dict[str, float] = {}
        self._start: dict[int, tuple[str, float]] = {}

    def begin(self, processes: dict[str, int]) -> None:
        roles = role_pids(processes, self.database_url, self.prefix)
        self._start = {pid: (role, cpu_seconds(pid)) for pid, role in roles.items()}

    def end(self) -> None:
        for pid, (role, start) in self._start.items():
            now = cpu_seconds(pid)
            if now >= start:
                self.seconds[role] = self.seconds.get(role, 0.0) + now - start
        self._start = {}

    def per_operation_ms(self, operations: int) -> dict[str, float]:
        if not operations:
            return {}
        out = {role: 1000 * s / operations for role, s in sorted(self.seconds.items())}
        out["total"] = 1000 * sum(self.seconds.values()) / operations
        return out
