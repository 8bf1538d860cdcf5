"""Personal account (лицевой счёт): the write side's sub-ledger of what is accrued and paid.

It keeps just enough to default a payment's amount to what is still due; the full balances
are projections.
"""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.ids import natural_id
from ledger.domain.read import EventRead, UuidOrText


class PersonalAccount(Aggregate):
    TOPIC = "kvit.personal_account"

    class Created(Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.personal_account.created"

    @staticmethod
    def id_for(supplier_inn: str, account_number: str) -> UUID:
        return natural_id("account", supplier_inn, account_number)

    @staticmethod
    def create_id(*, supplier_inn: str, account_number: str, **_: Any) -> UUID:
        return PersonalAccount.id_for(supplier_inn, account_number)

    class Opened(Created):
        TOPIC = "kvit.personal_account.opened"
        supplier_id: UUID
        supplier_inn: str
        account_number: str
        els: str | None
        address: str

        class Read(EventRead, Protocol):
            supplier_id: UuidOrText
            supplier_inn: str
            account_number: str
            els: str | None
            address: str

    @event(Opened)
    def __init__(
        self,
        *,
        supplier_id: UUID,
        supplier_inn: str,
        account_number: str,
        els: str | None,
        address: str,
    ) -> None:
        self.supplier_id = supplier_id
        self.supplier_inn = supplier_inn
        self.account_number = account_number
        self.els = els
        self.address = address
        self.payer_ids: list[str] = []
        # Payers who proved possession (an ИПД or bill total, or an operator's confirmation):
        # only they see the account's personal data.
        self.proven_payer_ids: list[str] = []
        # Keyed by str(bill id), so snapshots stay JSON. Withdrawn bills leave `bills_due`.
        self.bills_due: dict[str, int] = {}
        # Paid against a bill, net of refunds; carried over to its replacement.
        self.bills_paid: dict[str, int] = {}
        self.replaced_by: dict[str, str] = {}
        self.paid = 0

    @property
    def accrued(self) -> int:
        return sum(self.bills_due.values())

    def due(self, bill_id: UUID | None = None) -> int:
        """What is still to pay on a bill, or on the whole account; never negative."""
        if bill_id is None:
            return max(0, self.accrued - self.paid)
        key = self._current(bill_id)
        return max(0, self.bills_due.get(key, 0) - self.bills_paid.get(key, 0))

    def _current(self, bill_id: UUID) -> str:
        """The bill that now stands for `bill_id`, following replacements."""
        key = str(bill_id)
        while key in self.replaced_by:
            key = self.replaced_by[key]
        return key

    def link_payer(self, payer_id: str, proof: str | None = None) -> None:
        """Link (anyone may pay for an account); with a proof, the payer also sees its data.
        Linking again with a proof upgrades an unproven link."""
        if payer_id not in self.payer_ids or (proof is not None and not self.is_proven(payer_id)):
            self._payer_linked(payer_id=payer_id, proof=proof)

    def proves(self, *, bill_id: UUID) -> bool:
        """Whether the payer's ИПД names one of the account's bills (or one a current bill
        replaced: the resident may hold the first print)."""
        return str(bill_id) in self.bills_due or str(bill_id) in self.replaced_by

    class PayerLinked(Aggregate.Event):
        TOPIC = "kvit.personal_account.payer_linked"
        payer_id: str
        proof: str | None = None
        """Absent from links recorded before proofs existed: they count as unproven."""

        class Read(EventRead, Protocol):
            payer_id: str
            # No `proof`: the log reader's fast path has no class default for links recorded
            # before proofs existed; read it with `proof_of`.

    @event(PayerLinked)
    def _payer_linked(self, payer_id: str, proof: str | None = None) -> None:
        # `proof` is absent from links recorded before proofs existed: they count as unproven.
        if payer_id not in self.payer_ids:
            self.payer_ids.append(payer_id)
        if proof is not None and not self.is_proven(payer_id):
            self.proven_payer_ids.append(payer_id)

    def is_proven(self, payer_id: str) -> bool:
        # Snapshots taken before proofs existed have no such list.
        return payer_id in self.__dict__.setdefault("proven_payer_ids", [])

    class BillAdded(Aggregate.Event):
        TOPIC = "kvit.personal_account.bill_added"
        bill_id: UUID
        amount_due: int
        replaces: UUID | None

        class Read(EventRead, Protocol):
            bill_id: UuidOrText
            amount_due: int
            replaces: UuidOrText | None

    @event(BillAdded)
    def add_bill(self, *, bill_id: UUID, amount_due: int, replaces: UUID | None) -> None:
        key = str(bill_id)
        if replaces is not None:
            self.bills_due.pop(str(replaces), None)
            self.bills_paid[key] = self.bills_paid.pop(str(replaces), 0)
            self.replaced_by[str(replaces)] = key
        self.bills_due[key] = amount_due

    class BillWithdrawn(Aggregate.Event):
        TOPIC = "kvit.personal_account.bill_withdrawn"
        bill_id: UUID

        class Read(EventRead, Protocol):
            bill_id: UuidOrText

    @event(BillWithdrawn)
    def withdraw_bill(self, *, bill_id: UUID) -> None:
        self.bills_due.pop(str(bill_id), None)

    class PaymentReceived(Aggregate.Event):
        TOPIC = "kvit.personal_account.payment_received"
        payment_id: UUID
        bill_id: UUID | None
        amount: int

        class Read(EventRead, Protocol):
            payment_id: UuidOrText
            bill_id: UuidOrText | None
            amount: int

    @event(PaymentReceived)
    def receive_payment(self, *, payment_id: UUID, bill_id: UUID | None, amount: int) -> None:
        self.paid += amount
        if bill_id is not None:
            key = self._current(bill_id)
            self.bills_paid[key] = self.bills_paid.get(key, 0) + amount

    class PaymentRefunded(Aggregate.Event):
        TOPIC = "kvit.personal_account.payment_refunded"
        payment_id: UUID
        bill_id: UUID | None
        amount: int

        class Read(EventRead, Protocol):
            payment_id: UuidOrText
            bill_id: UuidOrText | None
            amount: int

    @event(PaymentRefunded)
    def refund_payment(self, *, payment_id: UUID, bill_id: UUID | None, amount: int) -> None:
        self.paid -= amount
        if bill_id is not None:
            key = self._current(bill_id)
            self.bills_paid[key] = self.bills_paid.get(key, 0) - amount


def proof_of(link: PersonalAccount.PayerLinked.Read) -> str | None:
    """The proof a payer gave when linked; None for links recorded before proofs existed."""
    proof: str | None = getattr(link, "proof", None)
    return proof
