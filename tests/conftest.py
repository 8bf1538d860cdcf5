"""Shared fixtures: one Ledger per backend (in memory, SQLite file, real PostgreSQL).

PostgreSQL tests use the server at KVIT_TEST_DATABASE_URL (default: the local one) in a
throwaway schema. If the server does not answer they fail with a clear message; they never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.engine.persistence import in_memory_env
from ledger.settings import Settings

TEST_DATABASE_URL = os.environ.get(
    "KVIT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["memory", "sqlite", "postgres"]


def postgres_or_fail() -> None:
    try:
        with psycopg.connect(TEST_DATABASE_URL, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is required for this test and does not answer at {TEST_DATABASE_URL}: "
            f"{error}. Start it (see .ci/run) or set KVIT_TEST_DATABASE_URL.",
            pytrace=False,
        )


@pytest.fixture
def pg_settings() -> Iterator[Settings]:
    """Settings for a fresh PostgreSQL schema, dropped after the test."""
    postgres_or_fail()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    settings = Settings(database_url=TEST_DATABASE_URL, database_schema=schema)
    migrate(settings)
    yield settings
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "var", database_url=None)
    migrate(settings)
    return settings


def make_ledger(backend: str, request: pytest.FixtureRequest) -> Ledger:
    if backend == "memory":
        return Ledger(in_memory_env())
    if backend == "sqlite":
        return build_ledger(request.getfixturevalue("sqlite_settings"))
    return build_ledger(request.getfixturevalue("pg_settings"))


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest) -> Iterator[Ledger]:
    """The same use cases on every backend."""
    app = make_ledger(request.param, request)
    yield app
    app.close()


@pytest.fixture
def memory_ledger() -> Iterator[Ledger]:
    app = Ledger(in_memory_env())
    yield app
    app.close()


@pytest.fixture
def pg_ledger(pg_settings: Settings) -> Iterator[Ledger]:
    app = build_ledger(pg_settings)
    yield app
    app.close()
