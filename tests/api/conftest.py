"""API test fixtures: one app per test on an in-memory ledger, its read models in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.auth import Role
from ledger.application import Ledger
from tests.api.helpers import PUBLIC_URL, Headers, World, bearer, build_app, make_world


@pytest.fixture
def app(tmp_path: Path, memory_ledger: Ledger) -> FastAPI:
    return build_app(tmp_path, memory_ledger)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=PUBLIC_URL) as test_client:
        yield test_client


@pytest.fixture
def fragile_client(app: FastAPI) -> Iterator[TestClient]:
    """A client that gets the 500 response instead of the server's exception."""
    with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def operator() -> Headers:
    return bearer(Role.OPERATOR)


@pytest.fixture
def auditor() -> Headers:
    return bearer(Role.AUDITOR)


@pytest.fixture
def resident() -> Headers:
    return bearer(Role.RESIDENT, "payer-anna")


@pytest.fixture
def other_resident() -> Headers:
    return bearer(Role.RESIDENT, "payer-boris")


@pytest.fixture
def world(client: TestClient, operator: Headers, resident: Headers) -> World:
    """A supplier, an account with one bill linked to the resident, and an empty wallet."""
    return make_world(client, operator, resident)
