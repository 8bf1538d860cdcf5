"""Per-command idempotency: a key is recorded in the same transaction as the command's effect.

Keys are kept forever and scoped to the caller. The same key with the same request returns the
original result (marked `replayed`); with a different request it raises
`IdempotencyKeyReusedError`. The happy path costs no read: a first attempt assumes the key is
new, and a replay is found when the record's id collides. A command that fails records
nothing, so a retry after, say, topping up the wallet can still succeed. Two concurrent first
attempts collide on the record's deterministic id: one commits, the other is re-run and finds
the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from ledger.domain.idempotency import IdempotencyRecord, fingerprint
from ledger.domain.ids import natural_id
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import IdempotencyKeyReusedError, InvalidIdentifierError, LedgerError

MAX_KEY_LENGTH = 255

R = TypeVar("R", bound=Mapping[str, Any])


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdentifierError(
            f"an idempotency key is 1–{MAX_KEY_LENGTH} printable characters",
            idempotency_key=key[:MAX_KEY_LENGTH],
        )
    return key


def derived_id(kind: str, scope: str, key: str) -> UUID:
    """The id of what a keyed command creates: a duplicate create collides on it."""
    return natural_id(kind, scope, key)


def idempotent(
    *,
    command: str,
    scope: str,
    key: str,
    request: dict[str, Any],
    body: Callable[[UnitOfWork], R],
) -> Callable[[UnitOfWork], R]:
    """`body` run once per key: its result is recorded as it is (plus `replayed`)."""
    check_key(key)
    expected = fingerprint(command, request)
    record_id = IdempotencyRecord.id_for(scope, key)

    def replay(uow: UnitOfWork) -> R | None:
        record = uow.find(IdempotencyRecord, record_id)
        if record is None:
            return None
        if record.fingerprint != expected:
            raise IdempotencyKeyReusedError(
                f"idempotency key {key!r} was used for a different {record.command} request",
                idempotency_key=key,
                original_command=record.command,
            )
        return cast(R, {**record.result, "replayed": True})

    def run(uow: UnitOfWork) -> R:
        # On a first attempt the key is assumed new (no read): if it is not, the record's
        # deterministic id collides at save and the re-run, no longer optimistic, replays.
        # A key already used earlier in the same batch is never new: replay it.
        if (not uow.optimistic or uow.pending_in_batch(record_id)) and (
            replayed := replay(uow)
        ) is not None:
            return replayed
        try:
            result = body(uow)
        except LedgerError:
            # The original may have succeeded where a re-run now fails (e.g. funds spent since).
            if uow.optimistic:
                uow.discard()  # whatever the body changed before it raised is not saved
                if (replayed := replay(uow)) is not None:
                    return replayed
            raise
        uow.add(
            IdempotencyRecord(
                scope=scope, key=key, command=command, fingerprint=expected, result=dict(result)
            )
        )
        return cast(R, {**result, "replayed": False})

    return run
