"""Bank notice (извещение о принятии к исполнению распоряжения): a payment a bank accepted.

Its id is the natural key (posting bank's БИК, OrderID), so a notice re-sent in another
register collides with the first and changes nothing. `fingerprint` is the notice's content:
the same OrderID with other content is a conflict, never an overwrite. An annulment reverses
the notice's postings with a new event; nothing is deleted. A commission is kept on the notice
and never posted: it is the bank's, not the supplier's.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import natural_id
from ledger.domain.postings import Posting, bank_clearing_account, payable_account, transfer
from ledger.domain.read import PostingsRead, UuidOrText
from ledger.domain.stamped import StampedEvent
from ledger.errors import NoticeStateConflictError


class BankNotice(Aggregate):
    TOPIC = "kvit.bank_notice"

    class Event(StampedEvent):
        pass

    class Created(Event, Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.bank_notice.created"

    @staticmethod
    def id_for(bank_bik: str, order_id: str) -> UUID:
        return natural_id("bank_notice", bank_bik, order_id)

    @staticmethod
    def create_id(*, bank_bik: str, order_id: str, **_: Any) -> UUID:
        return BankNotice.id_for(bank_bik, order_id)

    class Accepted(Created):
        TOPIC = "kvit.bank_notice.accepted"
        bank_bik: str
        order_id: str
        order_date: str
        amount: int
        commission: int
        payer: str | None
        supplier_id: UUID
        account_id: UUID
        bill_id: UUID | None
        document_id: str | None
        period: str | None
        purpose: str | None
        references: dict[str, str]
        fingerprint: str
        postings: list[Posting]

        class Read(PostingsRead, Protocol):
            bank_bik: str
            order_id: str
            order_date: str
            amount: int
            commission: int
            payer: str | None
            supplier_id: UuidOrText
            account_id: UuidOrText
            bill_id: UuidOrText | None
            document_id: str | None
            period: str | None
            purpose: str | None
            references: dict[str, str]
            fingerprint: str

    @event(Accepted)
    def __init__(
        self,
        *,
        bank_bik: str,
        order_id: str,
        order_date: str,
        amount: int,
        commission: int,
        payer: str | None,
        supplier_id: UUID,
        account_id: UUID,
        bill_id: UUID | None,
        document_id: str | None,
        period: str | None,
        purpose: str | None,
        references: dict[str, str],
        fingerprint: str,
        postings: list[Posting],
    ) -> None:
        self.bank_bik = bank_bik
        self.order_id = order_id
        self.order_date = order_date
        self.amount = amount
        self.commission = commission
        self.payer = payer
        self.supplier_id = supplier_id
        self.account_id = account_id
        self.bill_id = bill_id
        self.document_id = document_id
        self.period = period
        self.purpose = purpose
        self.references = references
        self.fingerprint = fingerprint
        self.annulled_on: str | None = None

    @staticmethod
    def postings_for(
        *, bank_bik: str, supplier_id: UUID, account_id: UUID, amount: int
    ) -> list[Posting]:
        """The bank owes us what it accepted; we owe it to the supplier's account."""
        return transfer(
            debit=bank_clearing_account(bank_bik),
            credit=payable_account(supplier_id, account_id),
            amount=amount,
        )

    @property
    def annulled(self) -> bool:
        return self.annulled_on is not None

    def annul(self, *, annul_date: str) -> list[Posting]:
        if self.annulled:
            raise NoticeStateConflictError(
                f"notice {self.order_id} was already annulled on {self.annulled_on}",
                order_id=self.order_id,
                annulled_on=self.annulled_on,
            )
        postings = transfer(
            debit=payable_account(self.supplier_id, self.account_id),
            credit=bank_clearing_account(self.bank_bik),
            amount=self.amount,
        )
        self._annulled(annul_date=annul_date, postings=postings)
        return postings

    class Annulled(Event):
        TOPIC = "kvit.bank_notice.annulled"
        annul_date: str
        postings: list[Posting]

        class Read(PostingsRead, Protocol):
            annul_date: str

    @event(Annulled)
    def _annulled(self, *, annul_date: str, postings: list[Posting]) -> None:
        self.annulled_on = annul_date

    def view(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "bank_bik": self.bank_bik,
            "order_id": self.order_id,
            "order_date": self.order_date,
            "amount": self.amount,
            "commission": self.commission,
            "payer": self.payer,
            "supplier_id": str(self.supplier_id),
            "account_id": str(self.account_id),
            "bill_id": str(self.bill_id) if self.bill_id else None,
            "document_id": self.document_id,
            "period": self.period,
            "purpose": self.purpose,
            "references": self.references,
            "annulled_on": self.annulled_on,
        }
