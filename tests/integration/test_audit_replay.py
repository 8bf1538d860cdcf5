"""Replay: a log produced by the ledger's hypothesis state machine, on SQLite and PostgreSQL,
rebuilt into scratch tables, equals the live read models (built incrementally, in small
batches) and its trial balance equals the log's postings; the chain over it verifies clean."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import psycopg
from hypothesis import HealthCheck, settings
from psycopg import sql

from audit.chain import catch_up
from audit.signing import AuditSettings
from audit.store import AuditStore
from audit.verify import verify
from ledger.bootstrap import build_ledger, migrate
from projections import models
from projections.projector import Projector
from projections.replay_check import replay_check
from projections.schema import migrate as migrate_read_models
from projections.settings import ReadSettings, open_store
from tests.conftest import TEST_DATABASE_URL, postgres_or_fail
from tests.property.test_ledger_state_machine import LedgerMachine


class ReplayedMachine(LedgerMachine):
    """The ledger state machine on a real database; at the end, replay and compare."""

    backend = "sqlite"

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="kvit-replay-"))
        self.schema = f"test_{uuid.uuid4().hex[:12]}"
        if self.backend == "postgres":
            self.audit_settings = AuditSettings(
                database_url=TEST_DATABASE_URL, database_schema=self.schema
            )
        else:
            self.audit_settings = AuditSettings(data_dir=self.tmp / "var", database_url=None)
        migrate(self.audit_settings)
        super().__init__()
        self.ledger.close()
        self.ledger = build_ledger(self.audit_settings)

    def teardown(self) -> None:
        try:
            self.replay_reproduces_state()
            self.replay_equals_the_live_read_models()
        finally:
            self.ledger.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
            if self.backend == "postgres":
                with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
                    connection.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                            sql.Identifier(self.schema)
                        )
                    )

    def replay_equals_the_live_read_models(self) -> None:
        read = ReadSettings()
        migrate_read_models(self.audit_settings, read)
        store = open_store(self.audit_settings, read)
        audit_store = AuditStore.open(self.audit_settings)
        try:
            live = Projector(self.ledger, store, models.build(), batch_size=7)
            while live.step().full:
                pass
            live.close()
            report = replay_check(self.ledger, store, batch_size=5000)
            assert report.identical, (report.differences, report.problems)
            assert report.position == (self.ledger.recorder.max_notification_id() or 0)
            assert sum(report.trial_from_log.values()) == 0
            audit_store.ensure_tables()
            catch_up(self.ledger, audit_store, batch=13)
            assert verify(self.ledger, audit_store, public_key=None).clean
        finally:
            audit_store.close()
            store.close()


class ReplayedOnPostgres(ReplayedMachine):
    backend = "postgres"

    def __init__(self) -> None:
        postgres_or_fail()
        super().__init__()


ReplayedMachine.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ReplayedOnPostgres.TestCase.settings = settings(
    max_examples=4,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestReplayOfStateMachineLogOnSQLite = ReplayedMachine.TestCase
TestReplayOfStateMachineLogOnPostgres = ReplayedOnPostgres.TestCase
