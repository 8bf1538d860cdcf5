"""The shape every keyed command shares: parsed once at the edge, a frozen value after, run once
per idempotency key. `request()` is what the idempotency record fingerprints, so its shape is
stored forever: a field added later must leave the dictionary of existing requests unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from ledger.domain.idempotency import IdempotencyRecord
from ledger.domain.text import PAYER_ID
from ledger.engine.idempotent import idempotent
from ledger.engine.unit_of_work import UnitOfWork

OPERATOR_SCOPE = "operator"
Result = dict[str, Any]


def payer_scope(payer_id: str) -> str:
    """A resident's idempotency scope; prefixed so no payer id can name another scope."""
    return f"payer:{payer_id}"


@dataclass(frozen=True, kw_only=True)
class KeyedCommand:
    """A command that creates something or moves money: it runs once per idempotency key."""

    name: ClassVar[str]
    idempotency_key: str

    @property
    def scope(self) -> str:
        raise NotImplementedError

    def request(self) -> dict[str, Any]:
        raise NotImplementedError

    def handle(self, uow: UnitOfWork) -> Result:
        raise NotImplementedError

    @property
    def record_id(self) -> UUID:
        return IdempotencyRecord.id_for(self.scope, self.idempotency_key)

    def __call__(self, uow: UnitOfWork) -> Result:
        run = idempotent(
            command=self.name,
            scope=self.scope,
            key=self.idempotency_key,
            request=self.request(),
            body=self.handle,
        )
        result: Result = run(uow)
        return result


@dataclass(frozen=True, kw_only=True)
class PayerCommand(KeyedCommand):
    """A resident's keyed command: its key is scoped to the payer."""

    payer_id: str

    def __post_init__(self) -> None:
        PAYER_ID.require(self.payer_id)  # every resident command: the payer's id is text too

    @property
    def scope(self) -> str:
        return payer_scope(self.payer_id)


@dataclass(frozen=True, kw_only=True)
class OperatorCommand(KeyedCommand):
    """An operator's (or a service's) keyed command: its key is scoped to the caller."""

    caller_scope: str = OPERATOR_SCOPE

    @property
    def scope(self) -> str:
        return self.caller_scope
