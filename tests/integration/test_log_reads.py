"""`read_stored` on PostgreSQL reads bounded windows of positions (storage/log.py): across gaps
in the ids, with and without topics, it returns exactly what one read of the whole log would."""

from __future__ import annotations

import psycopg

from ledger.bootstrap import build_ledger
from ledger.settings import Settings
from storage.log import Recorded, events_table, iter_stored, read_stored
from tests.fixtures import setup_world
from tests.integration.log_fixtures import pay


def test_reads_across_gaps_give_what_one_read_of_the_whole_log_gives(
    pg_settings: Settings,
) -> None:
    ledger = build_ledger(pg_settings)
    try:
        world = setup_world(ledger, wallet_balance=1_000_000)
        for i in range(8):
            pay(ledger, world, f"p{i}", 100 + i)
        table = events_table(ledger)
        with psycopg.connect(str(pg_settings.database_url), autocommit=True) as connection:
            # Gaps as failed inserts and a sequence's cache leave them, one of them wide.
            connection.execute(
                f"UPDATE {table} SET notification_id = notification_id + 100000"
                " WHERE notification_id > 20"
            )
            connection.execute(f"DELETE FROM {table} WHERE notification_id IN (5, 6, 7, 100030)")
            everything = [
                Recorded(*row)
                for row in connection.execute(
                    "SELECT notification_id, originator_id::text, originator_version, topic,"
                    f" state FROM {table} ORDER BY notification_id"
                )
            ]
        topics = sorted({e.topic for e in everything})[:2]
        for after in (0, 4, 19, 20, 100_025):
            rest = [e for e in everything if e.position > after]
            for limit in (1, 3, 10, 1000):
                assert read_stored(ledger, after=after, limit=limit) == rest[:limit]
                assert (
                    read_stored(ledger, after=after, limit=limit, stop=100_040)
                    == [e for e in rest if e.position <= 100_040][:limit]
                )
                wanted = [e for e in rest if e.topic in topics]
                assert (
                    read_stored(ledger, after=after, limit=limit, topics=topics) == (wanted[:limit])
                )
        assert list(iter_stored(ledger, batch=7)) == everything
    finally:
        ledger.close()
