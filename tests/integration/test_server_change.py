"""After a failover, no cached aggregate outlives the server it was read from.

A failover may discard the last commits of the old primary (pg_rewind; pg_auto_failover 2.0's
issue #774; a write made while replication was off). A process that cached an aggregate at a
version the new primary never had would then save the next version on top of a hole, and every
later load of that aggregate fails (OriginatorVersionError, a 500). Here the discarded commits
are deleted by hand and the server is restarted (a new postmaster start: another server to the
connections); the next command must read the aggregate again, not trust its copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from ledger.bootstrap import build_ledger, migrate
from ledger.payments.commands import OpenWallet, RequestTopUp, SettleTopUp
from ledger.settings import Settings
from storage.log import head
from tests.integration.test_faults import Cluster

SCHEMA = "kvit_server_change"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    owned = Cluster()
    owned.init()
    try:
        yield owned
    finally:
        owned.stop()


def top_up(ledger: object, wallet_id: UUID, amount: int, key: str) -> None:
    from ledger.application import Ledger

    assert isinstance(ledger, Ledger)
    requested = ledger.execute(
        RequestTopUp(wallet_id=wallet_id, payer_id="p", amount=amount, idempotency_key=key)
    )
    ledger.execute(
        SettleTopUp(
            top_up_id=UUID(requested.result["top_up_id"]),
            succeeded=True,
            amount=amount,
            acquirer_ref=key,
        )
    )


def test_a_new_server_drops_every_cached_aggregate(cluster: Cluster) -> None:
    settings = Settings(database_url=cluster.url, database_schema=SCHEMA)
    migrate(settings)
    ledger = build_ledger(settings)
    try:
        opened = ledger.execute(OpenWallet(payer_id="p", idempotency_key="w"))
        wallet_id = UUID(opened.result["wallet_id"])
        top_up(ledger, wallet_id, 100, "t1")
        kept = head(ledger)
        top_up(ledger, wallet_id, 20, "t2")  # cached here, then discarded by the "failover"
        with psycopg.connect(cluster.url, autocommit=True) as connection:
            connection.execute(
                f"DELETE FROM {SCHEMA}.kvit_events WHERE notification_id > %s", [kept]
            )
        cluster.restart()

        for _ in range(5):  # as a client retries a 503 (a connection cut by the restart)
            try:
                top_up(ledger, wallet_id, 3, "t3")
                break
            except OperationalError:
                continue
    finally:
        ledger.close()

    fresh = build_ledger(settings)
    try:
        assert fresh.get_wallet(wallet_id).balance == 103  # loads: no hole in its versions
    finally:
        fresh.close()
