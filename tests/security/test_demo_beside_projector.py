"""`kvit demo` on PostgreSQL beside a running `kvit project`, as the README's process block has
an operator do it: the demo writes its history and leaves the read models to the runner that
holds them (it waits for it), instead of racing it and dying on a tracking conflict. Its closing
hint offers demo residents only where demo sign-in is on.

Real processes on the real server: the `kvit` executable, twice, against one schema."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger.settings import Settings
from tests.conftest import TEST_DATABASE_URL
from tests.processes import KVIT, stop_all

pytestmark = pytest.mark.postgres

SECRET = "demo-beside-projector-secret-that-is-long-enough"


@pytest.fixture
def env(tmp_path: Path, pg_settings: Settings) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KVIT_")}
    environment.update(
        KVIT_DATA_DIR=str(tmp_path / "var"),
        KVIT_DATABASE_URL=str(pg_settings.database_url),
        KVIT_DATABASE_SCHEMA=str(pg_settings.database_schema),
        KVIT_SECRET_KEY=SECRET,
        KVIT_ACQUIRER_SECRET=SECRET + "-acquirer",
        KVIT_AUDIT_SIGNING_KEY="11" * 32,
    )
    done = subprocess.run(
        [KVIT, "migrate"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return environment


@pytest.fixture
def projector(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """`kvit project` running, holding its read models (it said so) before the test goes on."""
    log = tmp_path / "project.log"
    process = subprocess.Popen(
        [KVIT, "project"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while "following the log" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield process, log
    finally:
        stop_all(process)


def positions(settings: Settings) -> tuple[int, dict[str, int]]:
    """The log's head and each read model's tracking position, read straight from SQL."""
    schema = sql.Identifier(str(settings.database_schema))
    with psycopg.connect(TEST_DATABASE_URL) as connection:
        head = connection.execute(
            sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.kvit_events").format(schema)
        ).fetchone()
        rows = connection.execute(
            sql.SQL("SELECT projection, position FROM {}.rm_tracking").format(schema)
        ).fetchall()
    assert head is not None
    return head[0], {name: position for name, position in rows}


def test_demo_beside_a_running_projector_exits_0_and_the_projector_reaches_its_data(
    env: dict[str, str],
    pg_settings: Settings,
    projector: tuple[subprocess.Popen[str], Path],
) -> None:
    process, log = projector
    demo = subprocess.run(
        [KVIT, "demo", "--suppliers", "1", "--accounts", "3", "--months", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert demo.returncode == 0, demo.stderr + log.read_text()
    assert "checkpoint signed" in demo.stdout, demo.stdout

    head, reached = positions(pg_settings)
    assert head > 0 and reached
    # The demo returned once the runner had applied its history: nothing left to wait for.
    assert all(position == head for position in reached.values()), (head, reached)
    assert process.poll() is None, log.read_text()
    # The runner never found its read models moved under it by someone else.
    assert "no longer at position" not in log.read_text(), log.read_text()


def test_the_demos_hint_on_postgres_signs_in_by_token_not_by_picking_a_resident(
    env: dict[str, str], projector: tuple[subprocess.Popen[str], Path]
) -> None:
    """Demo sign-in is off on PostgreSQL unless KVIT_CABINET_DEMO_SIGN_IN is true: the page
    has no residents to pick, so the hint says how to sign in there."""
    demo = subprocess.run(
        [KVIT, "demo", "--suppliers", "1", "--accounts", "1", "--months", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert demo.returncode == 0, demo.stderr
    hint = " ".join(demo.stdout.split())  # the console wraps long lines
    assert "pick a demo resident" not in hint, hint
    assert "kvit token --role resident --payer resident-1-1" in hint, hint
    assert "KVIT_CABINET_DEMO_SIGN_IN" in hint, hint

    on = subprocess.run(
        [KVIT, "demo", "--suppliers", "1", "--accounts", "1", "--months", "1"],
        env={**env, "KVIT_CABINET_DEMO_SIGN_IN": "true"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert on.returncode == 0, on.stderr
    assert "pick a demo resident" in " ".join(on.stdout.split()), on.stdout
