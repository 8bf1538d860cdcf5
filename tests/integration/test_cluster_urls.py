"""A replicated cluster's URL: several hosts, and which of them to use, reach every connection.

libpq takes `postgresql://h1:p1,h2:p2/db?target_session_attrs=read-write` (or the hosts in the
query string, `?host=a,b&port=p1,p2`) and tries the hosts in turn until one is the kind asked
for. The event store's pool must read the URL the same way: before, `kvit migrate` refused the
first form and the second silently sent the event store to 127.0.0.1:5432.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger.application import Ledger
from ledger.bootstrap import build_ledger, migrate
from ledger.engine.persistence import event_store_env
from ledger.payments.commands import OpenWallet
from ledger.settings import Settings
from tests.conftest import TEST_DATABASE_URL, postgres_or_fail
from tests.integration.test_cli import clean_env, one_line_error, run

pytestmark = pytest.mark.postgres


def dead_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server() -> tuple[str, int, str]:
    options = psycopg.conninfo.conninfo_to_dict(TEST_DATABASE_URL)
    return str(options["host"]), int(options.get("port") or 5432), str(options["dbname"])


@pytest.fixture
def schema() -> Iterator[str]:
    postgres_or_fail()
    name = f"cluster_url_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def events_table_exists(schema: str) -> bool:
    with psycopg.connect(TEST_DATABASE_URL) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema]
        ).fetchone()
    return bool(row and row[0])


def test_migrate_takes_a_multi_host_url_and_finds_the_primary(tmp_path: Path, schema: str) -> None:
    host, port, dbname = server()
    url = (
        f"postgresql://postgres@{host}:{dead_port()},{host}:{port}/{dbname}"
        "?target_session_attrs=read-write"
    )
    done = run(clean_env(tmp_path, KVIT_DATABASE_URL=url, KVIT_DATABASE_SCHEMA=schema), "migrate")
    assert done.returncode == 0, done.stderr
    assert events_table_exists(schema)


def test_the_event_store_writes_through_hosts_given_in_the_query_string(schema: str) -> None:
    host, port, dbname = server()
    url = (
        f"postgresql://postgres@/{dbname}?host={host},{host}&port={dead_port()},{port}"
        "&target_session_attrs=read-write"
    )
    settings = Settings(database_url=url, database_schema=schema)
    migrate(settings)
    ledger = build_ledger(settings)
    try:
        opened = ledger.execute(OpenWallet(payer_id="cluster-url", idempotency_key="w"))
        assert ledger.get_wallet(uuid.UUID(opened.result["wallet_id"])).balance == 0
    finally:
        ledger.close()


def test_a_query_string_host_is_never_replaced_by_the_default_server(
    tmp_path: Path, schema: str
) -> None:
    # Only a dead port is named: the event store must fail there, not quietly use :5432.
    _, _, dbname = server()
    port = dead_port()
    url = f"postgresql://postgres@/{dbname}?host=127.0.0.1&port={port}"
    env = clean_env(tmp_path, KVIT_DATABASE_URL=url, KVIT_DATABASE_SCHEMA=schema)
    line = one_line_error(run(env, "migrate"), "refused")
    assert f"127.0.0.1:{port}/{dbname}" in line
    assert not events_table_exists(schema)


def test_every_option_of_the_url_reaches_the_event_store_pool(schema: str) -> None:
    # The pool's own connections carry the URL's options (here application_name, which
    # pg_stat_activity shows), as target_session_attrs must reach them after a failover.
    host, port, dbname = server()
    name = f"kvit-{schema}"
    url = (
        f"postgresql://postgres@{host}:{port}/{dbname}"
        f"?target_session_attrs=read-write&application_name={name}"
    )
    settings = Settings(database_url=url, database_schema=schema)
    migrate(settings)
    ledger = Ledger(event_store_env(settings))
    try:
        ledger.execute(OpenWallet(payer_id="cluster-url", idempotency_key="w"))
        with psycopg.connect(TEST_DATABASE_URL) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name]
            ).fetchone()
        assert row is not None and row[0] >= 1
    finally:
        ledger.close()
