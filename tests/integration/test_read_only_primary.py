"""A write that meets a server in recovery or a read-only transaction is a 503 with
Retry-After, never a 500.

During a failover the old primary restarts as a standby and answers every write with
`ReadOnlySqlTransaction` (`cannot execute LOCK TABLE during recovery`); the client retries
with its Idempotency-Key and lands on the new primary. Here the event store's own connections
are made read-only through the URL (`options=-c default_transaction_read_only=on`), which
PostgreSQL refuses with the same SQLSTATE 25006 as a standby.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from ledger.bootstrap import build_ledger
from ledger.payments.commands import OpenWallet
from ledger.settings import Settings
from tests.api.helpers import PUBLIC_URL, SUPPLIER, bearer, build_app, keyed, problem

pytestmark = pytest.mark.postgres
READ_ONLY = "?options=" + quote("-c default_transaction_read_only=on")


@pytest.fixture
def read_only_client(tmp_path: Path, pg_settings: Settings) -> Iterator[TestClient]:
    url = f"{pg_settings.database_url}{READ_ONLY}"
    ledger = build_ledger(Settings(database_url=url, database_schema=pg_settings.database_schema))
    app = build_app(tmp_path, ledger)
    try:
        with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
            yield client
    finally:
        ledger.close()


def test_a_write_refused_by_a_read_only_server_is_a_503_with_retry_after(
    read_only_client: TestClient,
) -> None:
    response = read_only_client.post(
        "/v1/suppliers", json=SUPPLIER, headers=keyed(bearer(Role.OPERATOR))
    )
    problem(response, 503, "database_unavailable")
    assert int(response.headers["retry-after"]) >= 1


def test_the_projection_follower_keeps_reconnecting_to_a_server_in_recovery(
    pg_settings: Settings,
) -> None:
    """`kvit project` exited on `cannot execute … during recovery`; it must treat a server in
    recovery like a lost connection and retry until the new primary answers."""
    import threading
    import time

    from projections.runner import ReadModelFollower
    from projections.schema import migrate as migrate_read_models
    from projections.settings import ReadSettings

    migrate_read_models(pg_settings)
    url = f"{pg_settings.database_url}{READ_ONLY}"
    settings = Settings(database_url=url, database_schema=pg_settings.database_schema)
    writable = build_ledger(pg_settings)
    writable.execute(OpenWallet(payer_id="in-recovery", idempotency_key="w"))  # to project
    writable.close()
    said: list[str] = []
    stop = threading.Event()
    runner = ReadModelFollower(
        ["wallet_balance"], settings, ReadSettings(), stop=stop, say=said.append
    )
    failed: list[BaseException] = []

    def run() -> None:
        try:
            runner.run()
        except BaseException as error:  # the test reports what ended the runner
            failed.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not any("reconnecting" in line for line in said) and time.monotonic() < deadline:
            assert not failed, failed
            time.sleep(0.1)
        assert thread.is_alive() and not failed, (failed, said)
        assert any("reconnecting" in line for line in said), said
    finally:
        stop.set()
        thread.join(15)
