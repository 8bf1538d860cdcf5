"""The one shape of a command: a frozen dataclass, handled by one function.

A command is parsed once at the edge, then it is a value. Its handler is a plain function of
the context that reads it: `def create_payment(cmd: CreatePayment, uow: UnitOfWork) ->
PaymentView`. `Handlers` pairs each command class with its handler (mypy checks each pair
where it is added) and binds a command to a unit-of-work callable, which is what the engine
runs: alone, in a group commit or in a batch.

A keyed command runs once per idempotency key: binding wraps its handler in `idempotent`.
`request()` is what the idempotency record fingerprints, so its shape is stored forever: a
field added later must leave the dictionary of existing requests unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from ledger.domain.idempotency import IdempotencyRecord
from ledger.domain.text import PAYER_ID
from ledger.engine.idempotent import idempotent
from ledger.engine.unit_of_work import UnitOfWork

OPERATOR_SCOPE = "operator"
R = TypeVar("R", bound=Mapping[str, Any])
C = TypeVar("C", bound="Command[Any]")


def payer_scope(payer_id: str) -> str:
    """A resident's idempotency scope; prefixed so no payer id can name another scope."""
    return f"payer:{payer_id}"


@dataclass(frozen=True, kw_only=True)
class Command(Generic[R]):
    """A command whose handler answers `R`. Unkeyed: running it again is the handler's
    business (a settlement or a notice is naturally idempotent)."""

    @property
    def record_id(self) -> UUID | None:
        """What a batch prefetches for this command in one query (None: nothing)."""
        return None

    def bind(self, handler: Callable[[Any, UnitOfWork], R]) -> Callable[[UnitOfWork], R]:
        return partial(handler, self)


@dataclass(frozen=True, kw_only=True)
class KeyedCommand(Command[R]):
    """A command that creates something or moves money: it runs once per idempotency key."""

    name: ClassVar[str]
    idempotency_key: str

    @property
    def scope(self) -> str:
        raise NotImplementedError

    def request(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def record_id(self) -> UUID:
        return IdempotencyRecord.id_for(self.scope, self.idempotency_key)

    def bind(self, handler: Callable[[Any, UnitOfWork], R]) -> Callable[[UnitOfWork], R]:
        return idempotent(
            command=self.name,
            scope=self.scope,
            key=self.idempotency_key,
            request=self.request(),
            body=partial(handler, self),
        )


@dataclass(frozen=True, kw_only=True)
class PayerCommand(KeyedCommand[R]):
    """A resident's keyed command: its key is scoped to the payer."""

    payer_id: str

    def __post_init__(self) -> None:
        PAYER_ID.require(self.payer_id)  # every resident command: the payer's id is text too

    @property
    def scope(self) -> str:
        return payer_scope(self.payer_id)


@dataclass(frozen=True, kw_only=True)
class OperatorCommand(KeyedCommand[R]):
    """An operator's (or a service's) keyed command: its key is scoped to the caller."""

    caller_scope: str = OPERATOR_SCOPE

    @property
    def scope(self) -> str:
        return self.caller_scope


@dataclass(frozen=True)
class Bound(Generic[R]):
    """A command with its handler: what the engine runs, `(uow) -> R`."""

    command: Command[R]
    run: Callable[[UnitOfWork], R]

    @property
    def record_id(self) -> UUID | None:
        return self.command.record_id

    def __call__(self, uow: UnitOfWork) -> R:
        return self.run(uow)


class Handlers:
    """Which function handles which command: exactly one each."""

    def __init__(self) -> None:
        self._by_kind: dict[type[Command[Any]], Callable[[Any, UnitOfWork], Any]] = {}

    def add(self, kind: type[C], handler: Callable[[C, UnitOfWork], Mapping[str, Any]]) -> None:
        if kind in self._by_kind:
            raise ValueError(f"{kind.__name__} already has a handler")
        self._by_kind[kind] = handler

    def merge(self, other: Handlers) -> None:
        for kind, handler in other._by_kind.items():
            self.add(kind, handler)

    @property
    def kinds(self) -> set[type[Command[Any]]]:
        return set(self._by_kind)

    def bind(self, command: Command[R]) -> Bound[R]:
        handler = self._by_kind.get(type(command))
        if handler is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        return Bound(command, command.bind(handler))
