"""A pg_auto_failover formation on this machine: a monitor, a primary and a standby, each a
`pg_autoctl` node on a free port in one temporary directory, run as the `postgres` OS user
when the test runs as root (as CI does). Debian's `postgresql-15-auto-failover` provides
`pg_autoctl`; `.ci/run` installs it.

The monitor's health checks are tuned so that a dead node is decided in about 2 s instead of
~20 s, and a primary that cannot be reached is not waited for 30 s: with synchronous
replication an old primary cut off from its standby cannot acknowledge a commit, so not waiting
for it to demote itself costs no data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.integration.test_faults import pg_bin
from tests.processes import free_port

DATABASE = "kvit"
MONITOR_SETTINGS = {
    # Probe every second, give up on a probe after 1 s, retry once after 0.5 s.
    "pgautofailover.health_check_period": 1000,
    "pgautofailover.health_check_timeout": 1000,
    "pgautofailover.health_check_max_retries": 1,
    "pgautofailover.health_check_retry_delay": 500,
    # A node unheard of for 2 s is unhealthy (default 20 s) ...
    "pgautofailover.node_considered_unhealthy_timeout": 2000,
    # ... and an unreachable primary is not waited for (default 30 s) before promoting.
    "pgautofailover.primary_demote_timeout": 3000,
}
KEEPER_SETTINGS = {
    # A primary that reaches neither monitor nor standby demotes itself after 3 s (default 20).
    "timeout.network_partition_timeout": "3",
    # A standby being promoted waits at most 1 s for its WAL receiver to stop (default 5).
    "timeout.prepare_promotion_walreceiver": "1",
}


@dataclass
class Node:
    name: str
    pgdata: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"


class Formation:
    def __init__(self) -> None:
        if shutil.which("pg_autoctl") is None:
            pytest.fail("no pg_autoctl: install postgresql-15-auto-failover (see .ci/run)")
        self.root = Path(tempfile.mkdtemp(prefix="kvit-formation-"))
        self.as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.env = {
            "PATH": f"{Path(pg_bin('pg_ctl')).parent}:/usr/bin:/bin",
            # pg_autoctl keeps its configuration and state here, not in a home directory.
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_DATA_HOME": str(self.root / "share"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
        }
        self.monitor = Node("monitor", self.root / "monitor", free_port())
        self.nodes = [Node(f"node{i}", self.root / f"node{i}", free_port()) for i in (1, 2)]

    # --- pg_autoctl ----------------------------------------------------------------------------
    def _command(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return [*prefix, "env", *(f"{k}={v}" for k, v in self.env.items()), *args]

    def autoctl(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            self._command("pg_autoctl", *args), capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise AssertionError(f"pg_autoctl {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout

    def start(self, node: Node) -> None:
        """`pg_autoctl run`: the node's keeper, which starts and watches its PostgreSQL. In a
        session of its own, so that `crash` kills keeper and postmaster together."""
        log = (self.root / f"{node.name}.log").open("ab")
        node.process = subprocess.Popen(
            self._command("pg_autoctl", "run", "--pgdata", str(node.pgdata)),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def monitor_url(self) -> str:
        return f"postgresql://autoctl_node@127.0.0.1:{self.monitor.port}/pg_auto_failover"

    def create(self) -> None:
        self.autoctl(
            "create", "monitor", "--pgdata", str(self.monitor.pgdata),
            "--pgport", str(self.monitor.port), "--hostname", "127.0.0.1",
            "--auth", "trust", "--no-ssl",
        )  # fmt: skip
        self.autoctl(
            "config", "set", "--pgdata", str(self.monitor.pgdata),
            "postgresql.listen_addresses", "127.0.0.1",
        )  # fmt: skip
        self.start(self.monitor)
        self._tune_monitor()
        for node, state in zip(self.nodes, ("single", "secondary"), strict=True):
            self.autoctl(
                "create", "postgres", "--pgdata", str(node.pgdata), "--pgport", str(node.port),
                "--listen", "127.0.0.1", "--hostname", "127.0.0.1", "--name", node.name,
                "--dbname", DATABASE, "--auth", "trust", "--no-ssl",
                "--monitor", f"{self.monitor_url}?sslmode=disable",
            )  # fmt: skip
            for key, value in KEEPER_SETTINGS.items():
                self.autoctl("config", "set", "--pgdata", str(node.pgdata), key, value)
            self.start(node)
            self.wait_for({node.name: (state,)}, 120)
        self.wait_for({self.nodes[0].name: ("primary",), self.nodes[1].name: ("secondary",)}, 60)

    def _tune_monitor(self) -> None:
        url = f"postgresql://postgres@127.0.0.1:{self.monitor.port}/pg_auto_failover"
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=2) as connection:
                    for name, value in MONITOR_SETTINGS.items():
                        connection.execute(f"ALTER SYSTEM SET {name} = {int(value)}")
                    connection.execute("SELECT pg_reload_conf()")
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    # --- state ---------------------------------------------------------------------------------
    def states(self) -> dict[str, tuple[str, str]]:
        """node name -> (reported state, assigned state), as the monitor knows them."""
        with psycopg.connect(self.monitor_url, connect_timeout=2) as connection:
            rows = connection.execute(
                "SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node"
            ).fetchall()
        return {str(name): (str(reported), str(goal)) for name, reported, goal in rows}

    def wait_for(self, wanted: dict[str, tuple[str, ...]], seconds: float) -> float:
        """Until every named node reports, and is assigned, one of the wanted states."""
        started = time.monotonic()
        seen: dict[str, tuple[str, str]] = {}
        while time.monotonic() - started < seconds:
            try:
                seen = self.states()
            except psycopg.OperationalError:
                seen = {}
            if all(
                name in seen and seen[name][0] == seen[name][1] and seen[name][0] in states
                for name, states in wanted.items()
            ):
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(f"formation not {wanted} within {seconds}s: {seen}")

    def primary(self) -> Node:
        states = self.states()
        primaries = [n for n in self.nodes if states[n.name][0] in ("primary", "wait_primary")]
        assert len(primaries) == 1, states
        return primaries[0]

    def standby(self) -> Node:
        primary = self.primary()
        return next(n for n in self.nodes if n is not primary)

    def settings_of(self, node: Node, *names: str) -> list[str]:
        with psycopg.connect(node.url, connect_timeout=2) as connection:
            return [str(connection.execute(f"SHOW {name}").fetchone()[0]) for name in names]  # type: ignore[index]

    @property
    def url(self) -> str:
        """What Kvit is given: both data nodes, and whichever of them takes writes."""
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        return f"postgresql://postgres@{hosts}/{DATABASE}?target_session_attrs=read-write"

    # --- faults --------------------------------------------------------------------------------
    def _pids(self, node: Node) -> list[int]:
        """The node's keeper processes and its PostgreSQL with every child of the postmaster
        (which puts each child in a process group of its own)."""
        assert node.process is not None
        group = [p for p in _all_pids() if _pgid(p) == node.process.pid]
        children = [p for p in _all_pids() if _ppid(p) in group]
        return sorted(set(group) | set(children))

    def crash(self, node: Node) -> None:
        """The machine dies: keeper and postmaster SIGKILLed at once (a keeper left alive would
        just restart its PostgreSQL)."""
        for pid in self._pids(node):
            _signal(pid, signal.SIGKILL)
        assert node.process is not None
        node.process.wait(10)
        node.process = None

    def freeze(self, node: Node) -> list[int]:
        """Cut the node off: every process of it stopped, its connections open but silent."""
        pids = self._pids(node)
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        return pids

    def thaw(self, pids: list[int]) -> None:
        for pid in pids:
            _signal(pid, signal.SIGCONT)

    def perform_failover(self) -> None:
        self.autoctl("perform", "failover", "--pgdata", str(self.monitor.pgdata), timeout=90)

    def destroy(self) -> None:
        for node in [*self.nodes, self.monitor]:
            if node.process is not None:
                for pid in self._pids(node):
                    _signal(pid, signal.SIGKILL)
                node.process.wait(10)
                node.process = None
        shutil.rmtree(self.root, ignore_errors=True)


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _stat(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) "


def _ppid(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[1]) if fields else -1


def _pgid(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[2]) if fields else -1


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
        os.kill(pid, number)
