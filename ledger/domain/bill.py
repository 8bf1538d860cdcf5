"""Bill (платёжный документ): what a personal account owes for one period."""

from __future__ import annotations

from typing import Any, Protocol, TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import natural_id
from ledger.domain.read import EventRead, UuidOrText
from ledger.errors import BillStateConflictError


class BillLine(TypedDict):
    service: str
    amount: int


class Bill(Aggregate):
    TOPIC = "kvit.bill"

    class Created(Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.bill.created"

    @staticmethod
    def id_for(document_id: str) -> UUID:
        """ИПД is unique across the system, so issuing the same ИПД twice collides."""
        return natural_id("bill", document_id)

    @staticmethod
    def create_id(*, document_id: str, **_: Any) -> UUID:
        return Bill.id_for(document_id)

    class Issued(Created):
        TOPIC = "kvit.bill.issued"
        account_id: UUID
        document_id: str
        uin: str | None
        period: str
        lines: list[BillLine]
        amount_due: int
        due_date: str
        replaces: UUID | None

        class Read(EventRead, Protocol):
            account_id: UuidOrText
            document_id: str
            uin: str | None
            period: str
            lines: list[BillLine]
            amount_due: int
            due_date: str
            replaces: UuidOrText | None

    @event(Issued)
    def __init__(
        self,
        *,
        account_id: UUID,
        document_id: str,
        uin: str | None,
        period: str,
        lines: list[BillLine],
        amount_due: int,
        due_date: str,
        replaces: UUID | None,
    ) -> None:
        self.account_id = account_id
        self.document_id = document_id
        self.uin = uin
        self.period = period
        self.lines = lines
        self.amount_due = amount_due
        self.due_date = due_date
        self.replaces = replaces
        self.withdrawn = False
        self.replaced_by: UUID | None = None

    def withdraw(self, *, reason: str, replaced_by: UUID | None = None) -> None:
        if self.withdrawn:
            raise BillStateConflictError(
                f"bill {self.document_id} is already withdrawn", bill_id=str(self.id)
            )
        self._withdrawn(reason=reason, replaced_by=replaced_by)

    class Withdrawn(Aggregate.Event):
        TOPIC = "kvit.bill.withdrawn"
        reason: str
        replaced_by: UUID | None

    @event(Withdrawn)
    def _withdrawn(self, *, reason: str, replaced_by: UUID | None) -> None:
        self.withdrawn = True
        self.replaced_by = replaced_by
