"""As-of balances on SQLite and PostgreSQL (events read per aggregate through SQL, moments
looked up in the chain table) equal the model's balances at random points."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from audit.chain import catch_up
from audit.store import AuditStore
from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.settings import Settings
from projections import as_of
from tests.conftest import TEST_DATABASE_URL, postgres_or_fail
from tests.unit.test_audit_as_of import check_history, moment_of, prefix_at
from tests.unit.test_projections_model import commands


def every_moment_maps_back(ledger: Ledger, store: AuditStore) -> None:
    """With the chain caught up, moments are looked up in the chain table."""
    head = ledger.recorder.max_notification_id() or 0
    for position in range(1, head, max(1, head // 15)):
        moment = moment_of(ledger, position)
        assert as_of.resolve(ledger, store, at=moment) == prefix_at(ledger, moment)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(commands, min_size=10, max_size=30),
    picks=st.lists(st.integers(0, 10**6), min_size=3, max_size=5),
)
def test_as_of_balances_on_a_real_database(tmp_path: Path, backend: str, steps, picks) -> None:  # type: ignore[no-untyped-def]
    schema = f"test_{uuid.uuid4().hex[:12]}"
    if backend == "postgres":
        postgres_or_fail()
        settings_ = Settings(database_url=TEST_DATABASE_URL, database_schema=schema)
    else:
        settings_ = Settings(data_dir=tmp_path / uuid.uuid4().hex / "var", database_url=None)
    migrate(settings_)
    ledger, store = build_ledger(settings_), AuditStore.open(settings_)
    store.ensure_tables()
    try:
        check_history(ledger, store, steps, picks)  # moments from the unchained tail
        catch_up(ledger, store)
        every_moment_maps_back(ledger, store)  # moments from the chain table
    finally:
        store.close()
        ledger.close()
        if backend == "postgres":
            with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
                connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
