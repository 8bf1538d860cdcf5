"""What the tests of a chained, served or exported log share: wallet payments into it, the audit
settings of each backend, and payments in two batches with a tree checkpoint signed after each
(the follower of an embedded deployment signs them)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from audit.signing import AuditSettings
from audit.store import AuditStore
from ledger.application import Ledger
from ledger.engine.group_commit import Outcome
from ledger.settings import Settings
from tests.fixtures import World, wallet_payment

SIGNED_WITHIN = 20.0
"""Seconds the follower has to sign a checkpoint over the newest payments."""


def pay(ledger: Ledger, world: World, key: str, amount: int = 1000) -> Outcome[Any]:
    """One confirmed wallet payment of what `world`'s account owes, under idempotency `key`."""
    return ledger.execute(wallet_payment(world, key, amount=amount))


def audit_settings(request: pytest.FixtureRequest, key: str) -> AuditSettings:
    """Settings of a fresh database of the fixture's backend (`request.param`: "sqlite" or
    "postgres", signing with `key` there; SQLite keeps its generated key)."""
    if request.param == "sqlite":
        base: Settings = request.getfixturevalue("sqlite_settings")
        return AuditSettings(data_dir=base.data_dir, database_url=None)
    base = request.getfixturevalue("pg_settings")
    return AuditSettings(
        database_url=base.database_url,
        database_schema=base.database_schema,
        audit_signing_key=key,
    )


def pay_signed(
    ledger: Ledger, store: AuditStore, world: World, payments: int, *, amount: int
) -> tuple[int, Outcome[Any]]:
    """`payments` payments (of `amount` + i) in two batches, each waited on until a signed tree
    checkpoint covers it; returns the log's head and the last payment."""
    paid = None
    head = 0
    for half in (0, 1):
        for i in range(half * payments // 2, (half + 1) * payments // 2):
            paid = pay(ledger, world, f"p{i}", amount + i)
        head = ledger.recorder.max_notification_id() or 0
        deadline = time.monotonic() + SIGNED_WITHIN
        while not store.notes(at_or_after=head):  # seq == position on SQLite
            assert time.monotonic() < deadline, "the follower signed no tree checkpoint"
            time.sleep(0.05)
    assert paid is not None
    return head, paid
