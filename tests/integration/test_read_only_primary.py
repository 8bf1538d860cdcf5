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
