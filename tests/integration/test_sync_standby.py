"""KVIT_REQUIRE_SYNC_STANDBY: a write is acknowledged only once a synchronous standby has it.

The shared test server has no standby (`synchronous_standby_names` is empty), which is what a
primary of pg_auto_failover looks like while its standby is lost: writes are refused with 503
and nothing is recorded, and a replay of a write committed earlier is not answered either. With
a standby attached the same writes go through (tests/integration/test_failover.py).
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
from storage.faults import UnconfirmedWriteError
from storage.log import head
from storage.preflight import NoSyncCommitError, replication
from tests.api.helpers import PUBLIC_URL, SUPPLIER, bearer, build_app, keyed, problem

pytestmark = pytest.mark.postgres


def strict(settings: Settings) -> Settings:
    return settings.model_copy(update={"require_sync_standby": True})


def test_with_no_standby_a_write_is_refused_before_it_commits(pg_settings: Settings) -> None:
    ledger = build_ledger(strict(pg_settings))
    try:
        before = head(ledger)
        with pytest.raises(UnconfirmedWriteError) as refused:
            ledger.execute(OpenWallet(payer_id="no-standby", idempotency_key="w"))
        assert refused.value.committed is False
        assert head(ledger) == before  # nothing was written
    finally:
        ledger.close()


def test_a_replay_is_not_acknowledged_while_no_standby_has_it(pg_settings: Settings) -> None:
    """Committed while replication was off (a degraded primary), the write may be discarded by
    a failover: its retry is a 503 too, until a standby confirms everything committed."""
    relaxed = build_ledger(pg_settings)
    try:
        relaxed.execute(OpenWallet(payer_id="degraded", idempotency_key="w"))
    finally:
        relaxed.close()
    ledger = build_ledger(strict(pg_settings))
    try:
        with pytest.raises(UnconfirmedWriteError):
            ledger.execute(OpenWallet(payer_id="degraded", idempotency_key="w"))
    finally:
        ledger.close()


def test_without_the_setting_a_primary_alone_takes_writes(pg_settings: Settings) -> None:
    ledger = build_ledger(pg_settings)
    try:
        opened = ledger.execute(OpenWallet(payer_id="alone", idempotency_key="w"))
        assert opened.position > 0
        assert ledger.execute(OpenWallet(payer_id="alone", idempotency_key="w")).replayed
    finally:
        ledger.close()


@pytest.fixture
def strict_client(tmp_path: Path, pg_settings: Settings) -> Iterator[TestClient]:
    ledger = build_ledger(strict(pg_settings))
    app = build_app(tmp_path, ledger)
    try:
        with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
            yield client
    finally:
        ledger.close()


def test_a_write_no_standby_confirmed_is_a_503_with_retry_after(
    strict_client: TestClient,
) -> None:
    response = strict_client.post(
        "/v1/suppliers", json=SUPPLIER, headers=keyed(bearer(Role.OPERATOR))
    )
    problem(response, 503, "standby_unavailable")
    assert int(response.headers["retry-after"]) >= 1


def test_serve_refuses_to_start_when_commits_never_wait_for_a_standby(
    pg_settings: Settings,
) -> None:
    url = f"{pg_settings.database_url}?options={quote('-c synchronous_commit=local')}"
    settings = pg_settings.model_copy(update={"database_url": url})
    with pytest.raises(NoSyncCommitError, match="synchronous_commit is 'local'"):
        replication(settings, required=True)


def test_serve_says_what_an_acknowledged_write_rests_on(pg_settings: Settings) -> None:
    said = replication(pg_settings, required=True)
    assert said is not None and "writes are refused" in said
    said = replication(pg_settings, required=False)
    assert said is not None and "on this server alone" in said
