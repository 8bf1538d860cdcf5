"""The outbox table: one row per e-mail, written with the worker's log position in one
transaction, so an e-mail is queued exactly once however often the worker restarts."""

from __future__ import annotations

import json
import time
from typing import Any

from storage.sql import Store, Tx

OUTBOX = "notice_outbox"
TRACKING = "notice_tracking"
STALE_CLAIM_SECONDS = 300
"""A claim older than this belongs to a worker that died mid-send; the e-mail is retried."""


def migrate(store: Store) -> None:
    big = "BIGINT" if store.postgres else "INTEGER"
    real = "DOUBLE PRECISION" if store.postgres else "REAL"
    with store.writing() as tx:
        tx.create_schema()
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {store.name(OUTBOX)} ("
            f" payment_id TEXT PRIMARY KEY, position {big} NOT NULL, payload TEXT NOT NULL,"
            f" status TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT,"
            f" next_attempt_at {real} NOT NULL, claimed_at {real}, sent_at {real})"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {store.name(TRACKING)} ("
            f" name TEXT PRIMARY KEY, position {big} NOT NULL)"
        )
        tx.execute(
            f"INSERT INTO {store.name(TRACKING)} (name, position) VALUES ('notices', 0)"
            " ON CONFLICT (name) DO NOTHING"
        )


def tracked_position(tx: Tx) -> int:
    rows = tx.execute(f"SELECT position FROM {tx.store.name(TRACKING)} WHERE name = 'notices'")
    return int(rows[0][0]) if rows else 0


def enqueue(tx: Tx, queued: list[dict[str, Any]], position: int) -> None:
    """Queue e-mails and move the tracking position, in the caller's transaction."""
    for one in queued:
        tx.execute(
            f"INSERT INTO {tx.store.name(OUTBOX)} (payment_id, position, payload, status,"
            " attempts, next_attempt_at) VALUES (%s, %s, %s, 'pending', 0, 0)"
            " ON CONFLICT (payment_id) DO NOTHING",
            [one["payment_id"], one["position"], json.dumps(one, ensure_ascii=False)],
        )
    updated = tx.execute(
        f"UPDATE {tx.store.name(TRACKING)} SET position = %s"
        " WHERE name = 'notices' AND position < %s RETURNING position",
        [position, position],
    )
    if not updated:
        raise RuntimeError("another mail worker moved the position; this batch is dropped")


def due(tx: Tx, limit: int, now: float) -> list[str]:
    rows = tx.execute(
        f"SELECT payment_id FROM {tx.store.name(OUTBOX)} WHERE"
        " (status = 'pending' AND next_attempt_at <= %s)"
        " OR (status = 'sending' AND claimed_at < %s) ORDER BY position LIMIT %s",
        [now, now - STALE_CLAIM_SECONDS, limit],
    )
    return [row[0] for row in rows]


def claim(tx: Tx, payment_id: str, now: float) -> dict[str, Any] | None:
    """Take one e-mail for sending; None if another worker took it first."""
    rows = tx.execute(
        f"UPDATE {tx.store.name(OUTBOX)} SET status = 'sending', claimed_at = %s"
        " WHERE payment_id = %s AND ((status = 'pending' AND next_attempt_at <= %s)"
        " OR (status = 'sending' AND claimed_at < %s)) RETURNING payload, attempts",
        [now, payment_id, now, now - STALE_CLAIM_SECONDS],
    )
    if not rows:
        return None
    payload: dict[str, Any] = json.loads(rows[0][0])
    payload["attempts"] = rows[0][1]
    return payload


def mark_sent(tx: Tx, payment_id: str) -> None:
    tx.execute(
        f"UPDATE {tx.store.name(OUTBOX)} SET status = 'sent', sent_at = %s, last_error = NULL"
        " WHERE payment_id = %s",
        [time.time(), payment_id],
    )


def postpone(tx: Tx, payment_id: str, at: float) -> None:
    """Back to `pending` until `at`, with no attempt counted (it waits for its receipt code)."""
    tx.execute(
        f"UPDATE {tx.store.name(OUTBOX)} SET status = 'pending', next_attempt_at = %s,"
        " claimed_at = NULL WHERE payment_id = %s",
        [at, payment_id],
    )


def mark_failed(
    tx: Tx, payment_id: str, error: str, attempts: int, retry_at: float, *, give_up: bool
) -> None:
    """Back to `pending` for a retry at `retry_at`, or `undeliverable` once retries run out
    (left for an operator: the row keeps the last error)."""
    tx.execute(
        f"UPDATE {tx.store.name(OUTBOX)} SET status = %s, attempts = %s,"
        " last_error = %s, next_attempt_at = %s, claimed_at = NULL WHERE payment_id = %s",
        ["undeliverable" if give_up else "pending", attempts, error[:500], retry_at, payment_id],
    )


def counts(tx: Tx) -> dict[str, int]:
    rows = tx.execute(f"SELECT status, COUNT(*) FROM {tx.store.name(OUTBOX)} GROUP BY status")
    return {status: int(n) for status, n in rows}
