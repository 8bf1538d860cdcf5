"""Issue 21: the auditors' heavy reads go to a standby (`KVIT_READ_REPLICA_URL`) and still see
every acknowledged write.

A real primary and a real physical standby (`pg_basebackup -R`) in a temporary directory. The
standby's replay is paused, so it is as far behind as the test likes: a read then waits for it,
bounded, and is answered by the primary once the bound is out; with replay resumed during the
wait, the standby answers — and in both cases the answer includes the write just made.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from api.app import create_app
from api.auth import Role
from ledger.bootstrap import build_ledger, migrate
from ledger.payments.commands import CreatePayment
from projections.schema import migrate as migrate_read_models
from tests.api.helpers import PUBLIC_URL, api_settings, bearer
from tests.fixtures import setup_world
from tests.integration.test_faults import Cluster, pg_bin

pytestmark = pytest.mark.postgres
BOUND = 1.0


class Standby(Cluster):
    """A physical standby of `primary`, streaming from it, on a port of its own."""

    def __init__(self, primary: Cluster) -> None:
        super().__init__()
        self.primary = primary

    def init(self) -> None:
        self._run(
            pg_bin("pg_basebackup"),
            *("-D", str(self.data), "-R", "-X", "stream", "-c", "fast"),
            *("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"),
        )
        self.start()

    def replay(self, paused: bool) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()")


@pytest.fixture
def pair() -> Iterator[tuple[Cluster, Standby]]:
    primary = Cluster()
    primary.init()
    standby = Standby(primary)
    try:
        standby.init()
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()


def served_by(where: str) -> float:
    return REGISTRY.get_sample_value("kvit_log_reads_total", {"served_by": where}) or 0.0


def test_as_of_reads_on_the_standby_wait_for_its_replay_or_go_to_the_primary(
    pair: tuple[Cluster, Standby], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, standby = pair
    monkeypatch.setenv("KVIT_READ_WAIT_TIMEOUT_SECONDS", str(BOUND))
    settings = api_settings(
        tmp_path,
        database_url=primary.url,
        database_schema=f"test_{uuid.uuid4().hex[:8]}",
        read_replica_url=f"{standby.url}?target_session_attrs=prefer-standby",
    )
    migrate(settings)
    migrate_read_models(settings)
    ledger = build_ledger(settings)
    auditor = bearer(Role.AUDITOR)
    world = setup_world(ledger, wallet_balance=100_000)

    def pay(key: str) -> int:
        paid = ledger.execute(
            CreatePayment.parse(
                payer_id=world.payer_id,
                method="wallet",
                idempotency_key=key,
                account_id=world.account_id,
                wallet_id=world.wallet_id,
                amount=1_000,
                confirm=True,
            )
        )
        return paid.position

    def wallet_as_of(client: TestClient, position: int) -> int:
        answer = client.get(
            f"/v1/audit/ledger-accounts/wallet:{world.wallet_id}",
            params={"as_of": position},
            headers=auditor,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["as_of"] == position, answer.json()
        return int(answer.json()["balance"])

    try:
        with TestClient(create_app(settings, ledger=ledger), base_url=PUBLIC_URL) as client:
            at_start = wallet_as_of(client, pay("p0"))  # debit-positive: a wallet is < 0
            # Caught up: the standby answers.
            replica, primary_reads = served_by("replica"), served_by("primary")
            assert wallet_as_of(client, pay("p1")) == at_start + 1_000
            assert served_by("replica") == replica + 1

            # Replay paused: the read waits out its bound, then the primary answers.
            standby.replay(paused=True)
            started = time.monotonic()
            assert wallet_as_of(client, pay("p2")) == at_start + 2_000
            assert time.monotonic() - started >= BOUND
            assert served_by("primary") == primary_reads + 1

            # Replay resumed while the read waits: the standby answers, with the write.
            position = pay("p3")
            threading.Timer(BOUND / 3, standby.replay, kwargs={"paused": False}).start()
            assert wallet_as_of(client, position) == at_start + 3_000
            assert served_by("replica") == replica + 2
    finally:
        ledger.close()
