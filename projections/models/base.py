"""What every read model is: tables, the event topics it follows, and one handler per topic.

A handler is a method marked with the events it applies (`@applies(Wallet.Opened)`), so the
mapping names the method itself: mypy checks its signature and a rename carries it along.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, ClassVar, TypeVar

from eventsourcing.utils import get_topic

from ledger.domain.read import UuidOrText
from projections.staged import StagedRows
from projections.tables import Table
from storage.log import Logged

Handler = Callable[[StagedRows, Logged], None]
Method = TypeVar("Method", bound=Callable[[Any, StagedRows, Logged], None])
_APPLIES = "_kvit_applies"


def applies(*events: type[Any]) -> Callable[[Method], Method]:
    """Mark a read model's method as the one that applies these events."""

    def mark(method: Method) -> Method:
        setattr(method, _APPLIES, events)
        return method

    return mark


class ReadModel:
    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    handles: ClassVar[dict[type[Any], Callable[[Any, StagedRows, Logged], None]]]
    """Event class -> the method that applies it (collected from `@applies`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Marks are inherited, and a subclass's override of a marked method takes its place.
        names = {
            event: name
            for base in reversed(cls.__mro__)
            for name, method in vars(base).items()
            for event in getattr(method, _APPLIES, ())
        }
        cls.handles = {event: getattr(cls, name) for event, name in names.items()}

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {
            get_topic(cls): method.__get__(self) for cls, method in self.handles.items()
        }

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self.handlers)

    def prefetch(self, staged: StagedRows, events: Sequence[Logged]) -> None:
        """Load, in a few queries, the rows the chunk's events will touch (an optimisation:
        a row not prefetched is loaded on first use)."""

    def apply(self, staged: StagedRows, logged: Logged) -> None:
        self.handlers[logged.topic](staged, logged)

    def finish(self, staged: StagedRows) -> None:
        """After the chunk's events: derive what depends on all of them."""

    touched: ClassVar[str | None] = None
    """A model whose `finish` derives rows only from the final state of what the chunk
    touched names the `staged.scratch` entry listing those keys (e.g. accounts). A rebuild
    then gathers them over its whole replay and derives each key's rows once, at the end
    (projections/replay.py): the same rows as once per chunk, for any chunking."""

    def refinish(self, staged: StagedRows, keys: Collection[str]) -> None:
        """Derive, as `finish` does, the rows of these keys (touched in earlier chunks):
        loads what it needs in a few queries."""
        raise NotImplementedError(f"{self.name} defers no work to the end of a rebuild")


def id_text(value: UuidOrText | None) -> str | None:
    """An id as the read models store it: text (the log reader gives the UUID or its text)."""
    return None if value is None else str(value)
