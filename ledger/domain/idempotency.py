"""Idempotency keys, kept forever as tiny aggregates saved in the same transaction as the effect."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import natural_id


def fingerprint(command: str, request: dict[str, Any]) -> str:
    """A stable hash of a command's request, to tell a retry from a reuse of the key."""
    canonical = json.dumps([command, request], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyRecord(Aggregate):
    TOPIC = "kvit.idempotency_record"

    class Created(Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.idempotency_record.created"

    @staticmethod
    def id_for(scope: str, key: str) -> UUID:
        return natural_id("idempotency", scope, key)

    @staticmethod
    def create_id(*, scope: str, key: str, **_: Any) -> UUID:
        return IdempotencyRecord.id_for(scope, key)

    class Recorded(Created):
        TOPIC = "kvit.idempotency_record.recorded"
        scope: str
        key: str
        command: str
        fingerprint: str
        result: dict[str, Any]

    @event(Recorded)
    def __init__(
        self, *, scope: str, key: str, command: str, fingerprint: str, result: dict[str, Any]
    ) -> None:
        self.scope = scope
        self.key = key
        self.command = command
        self.fingerprint = fingerprint
        self.result = result
