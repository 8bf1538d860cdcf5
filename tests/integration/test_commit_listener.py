"""Followers are woken by each commit to the event log (storage/listen.py): on PostgreSQL a
commit's NOTIFY reaches a listening connection; elsewhere there is nothing to listen to."""

from __future__ import annotations

import pytest

from ledger.application import Ledger
from ledger.bootstrap import build_ledger
from ledger.payments.commands import OpenWallet
from ledger.settings import Settings
from storage.listen import listen, open_listener
from tests.conftest import TEST_DATABASE_URL


@pytest.mark.postgres
def test_a_commit_wakes_a_listener_on_postgres(pg_ledger: Ledger, pg_settings: Settings) -> None:
    listener = open_listener(pg_ledger, pg_settings.database_url or "")
    assert listener is not None
    try:
        pg_ledger.execute(OpenWallet(payer_id="payer-1", idempotency_key="wallet"))
        woken = [n.channel for n in listener.notifies(timeout=5.0, stop_after=1)]
        # At least the one; psycopg may hand over more that came in the same packet.
        assert woken and set(woken) == {"kvit_events"}, woken
    finally:
        listener.close()


def test_nothing_to_listen_to_on_sqlite(sqlite_settings: Settings) -> None:
    ledger = build_ledger(sqlite_settings)
    try:
        assert open_listener(ledger, TEST_DATABASE_URL) is None
        with pytest.raises(TypeError, match="only the PostgreSQL event store"):
            listen(None, ledger)  # type: ignore[arg-type]  # refused before the connection is used
    finally:
        ledger.close()
