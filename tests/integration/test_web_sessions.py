"""The cabinet's sessions on both stores Kvit runs on: a sign-in in flight is taken once, a
session is found by its cookie only, dies when closed, and the first sign-in is recorded once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.auth import Role
from api.oidc import sessions
from api.oidc.base import Identity
from projections.settings import ReadSettings, open_store
from storage.sql import Store

ALICE = Identity("https://id.example.ru", "alice", Role.RESIDENT)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        opened = open_store(request.getfixturevalue("pg_settings"), ReadSettings())
    else:
        opened = Store("sqlite", str(tmp_path / "read.db"), None)
    sessions.migrate(opened)
    sessions.migrate(opened)  # again: `kvit migrate` may run twice
    yield opened
    opened.close()


def test_a_sign_in_in_flight_is_taken_once(store: Store) -> None:
    kept = sessions.Sessions(store)
    pending = kept.begin_login()
    assert kept.take_login(pending.state) == pending
    assert kept.take_login(pending.state) is None  # replayed
    assert kept.take_login("never-given") is None


def test_a_session_is_found_by_its_cookie_and_dies_when_closed(store: Store) -> None:
    kept = sessions.Sessions(store)
    cookie, opened = kept.open(ALICE)
    assert kept.find(cookie) == opened
    assert opened.payer_id == ALICE.payer_id and opened.role == Role.RESIDENT
    with store.read() as tx:
        stored = [row[0] for row in tx.execute(f"SELECT id_hash FROM {store.name('web_session')}")]
    assert cookie not in stored and kept.find(stored[0]) is None  # only its hash is kept
    kept.open(ALICE)  # a second sign-in: the identity stays recorded once
    with store.read() as tx:
        identities = tx.execute(f"SELECT payer_id FROM {store.name('oidc_identity')}")
    assert [row[0] for row in identities] == [ALICE.payer_id]
    kept.close(cookie)
    assert kept.find(cookie) is None


def test_sign_ins_in_flight_are_capped(store: Store) -> None:
    kept = sessions.Sessions(store, pending_limit=2)
    kept.begin_login()
    kept.begin_login()
    with pytest.raises(sessions.TooManySignInsError):
        kept.begin_login()
