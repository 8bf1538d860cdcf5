"""Issue 21 (past one primary): a wallet in partition A pays an account in partition B exactly
once, with no distributed transaction, when either side dies mid-transfer (bench/partitions.py,
docs/scaling.md).

Real processes on the local PostgreSQL, each partition a schema: A's payer is SIGKILLed in the
middle of its transfers and restarted (it resends them all with the same keys); the relay is
crashed between B's commit and its cursor (then B must answer the redelivery "duplicate"), and
restarted until drained. Afterwards each partition's postings sum to zero, the clearing pair
(A's payables to the mirror, B's `bank:BIK_A:clearing`) nets to zero, each transfer was credited
in B or refunded in A exactly once, and A's wallets lost exactly what B credited.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.partitions import Partitions, check, drop, expected, set_up
from tests.conftest import TEST_DATABASE_URL, postgres_or_fail

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
TRANSFERS = 60


@pytest.fixture
def schemas() -> Iterator[tuple[str, str]]:
    postgres_or_fail()
    tag = uuid.uuid4().hex[:8]
    a, b = f"test_part_a_{tag}", f"test_part_b_{tag}"
    set_up(TEST_DATABASE_URL, a, b)
    yield a, b
    drop(TEST_DATABASE_URL, a, b)


def side(step: str, a: str, b: str, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.partitions", step, "--url", TEST_DATABASE_URL]
    return subprocess.Popen(
        [*command, "--a", a, "--b", b, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def test_killing_either_side_mid_transfer_doubles_nothing_and_balances(
    schemas: tuple[str, str],
) -> None:
    a, b = schemas
    transfers = ("--transfers", str(TRANSFERS))

    # A's side dies in the middle of its transfers: no goodbye, maybe mid-commit.
    payer = side("pay", a, b, *transfers)
    assert payer.stdout is not None
    deadline = time.monotonic() + 60
    while "sent 20" not in payer.stdout.readline():
        assert time.monotonic() < deadline and payer.poll() is None, "the payer never got going"
    payer.send_signal(signal.SIGKILL)
    payer.wait(10)

    # The relay dies after B committed a delivery, before its cursor moved.
    code, output = finished(side("relay", a, b, "--crash-after", "5"))
    assert code == 9, output

    # A's payer again, resending every transfer with its key; the relay until drained.
    code, output = finished(side("pay", a, b, *transfers))
    assert code == 0, output
    code, output = finished(side("relay", a, b))
    assert code == 0, output
    assert "0 duplicates" not in output, output  # the crash's delivery came again: refused

    parts = Partitions(TEST_DATABASE_URL, a, b)
    try:
        found = check(parts)  # also fails on an OrderID credited twice
    finally:
        parts.close()
    credited, refunded, kopecks = expected(TRANSFERS)
    assert found.partition_sums == (0, 0), found
    assert found.in_flight == 0 and found.clearing[1] == kopecks, found
    assert (len(found.credited), found.refunded) == (credited, refunded), found
    assert sum(found.credited.values()) == found.wallets_lost == kopecks, found
