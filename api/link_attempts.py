"""A limit on failed attempts to link a personal account, per payer, kept in the read store so
every worker counts the same attempts.

An attempt fails when the account is unknown (404) or the proof matches none of its bills
(422). Once a payer has used up the window's failures every attempt is refused with 429 before
anything is looked up, so a 404 tells an enumerator no more than the limit allows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.sql import Store

TABLE = "link_attempt"


def migrate(store: Store) -> None:
    real = "DOUBLE PRECISION" if store.postgres else "REAL"
    with store.writing() as tx:
        tx.create_schema()
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {store.name(TABLE)} (payer_id TEXT PRIMARY KEY,"
            f" failures INTEGER NOT NULL, window_started {real} NOT NULL)"
        )


@dataclass(frozen=True)
class LinkAttempts:
    store: Store
    limit: int
    window_seconds: int

    def retry_after(self, payer_id: str, now: float | None = None) -> int:
        """Seconds until the payer may try again; 0 if they may now."""
        now = time.time() if now is None else now
        with self.store.read() as tx:
            rows = tx.execute(
                f"SELECT failures, window_started FROM {self.store.name(TABLE)}"
                " WHERE payer_id = %s",
                [payer_id],
            )
        if not rows:
            return 0
        failures, started = int(rows[0][0]), float(rows[0][1])
        left = started + self.window_seconds - now
        return max(1, int(left) + 1) if failures >= self.limit and left > 0 else 0

    def failed(self, payer_id: str, now: float | None = None) -> None:
        """Count one failure, starting a new window if the last one has passed."""
        now = time.time() if now is None else now
        table = self.store.name(TABLE)
        with self.store.writing() as tx:
            tx.execute(
                f"INSERT INTO {table} (payer_id, failures, window_started)"
                " VALUES (%s, 1, %s) ON CONFLICT (payer_id) DO UPDATE SET"
                f" failures = CASE WHEN {TABLE}.window_started <= %s THEN 1"
                f" ELSE {TABLE}.failures + 1 END,"
                f" window_started = CASE WHEN {TABLE}.window_started <= %s THEN %s"
                f" ELSE {TABLE}.window_started END",
                [payer_id, now, now - self.window_seconds, now - self.window_seconds, now],
            )
