"""Index from a ЕЛС to the personal accounts that carry it.

A ЕЛС names premises in ГИС ЖКХ, so several suppliers' accounts share one; a bank notice that
gives only a ЕЛС or an ИЖКУ is resolved through this index, narrowed by the recipient's ИНН.
It is written in the same transaction as the account it indexes.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import natural_id


class ElsIndex(Aggregate):
    TOPIC = "kvit.els_index"

    class Created(Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.els_index.created"

    @staticmethod
    def id_for(els: str) -> UUID:
        return natural_id("els", els)

    @staticmethod
    def create_id(*, els: str, **_: Any) -> UUID:
        return ElsIndex.id_for(els)

    class Started(Created):
        TOPIC = "kvit.els_index.started"
        els: str

    @event(Started)
    def __init__(self, *, els: str) -> None:
        self.els = els
        self.account_ids: list[str] = []

    def add(self, account_id: UUID) -> None:
        if str(account_id) not in self.account_ids:
            self._added(account_id=account_id)

    class AccountAdded(Aggregate.Event):
        TOPIC = "kvit.els_index.account_added"
        account_id: UUID

    @event(AccountAdded)
    def _added(self, *, account_id: UUID) -> None:
        self.account_ids.append(str(account_id))
