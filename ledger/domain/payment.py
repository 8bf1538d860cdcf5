"""Payment: a payer's intent to pay a personal account, with a Stripe-like lifecycle.

    requires_confirmation --confirm--> processing --> succeeded | failed
    requires_confirmation --cancel--> canceled
    processing --cancel at the acquirer (card, before any money moved)--> canceled
    succeeded --refund (full or partial, many times)--> succeeded, `refunded` grows

A card payment waits in `processing` for the acquirer's outcome; cancelling it there is refused
because the money may already be in flight, unless the acquirer itself confirms that it closed
the session unpaid (`cancel_at_acquirer`). A wallet payment goes from confirm to succeeded in
the same transaction as the wallet debit.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypedDict
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.postings import (
    ACQUIRER_CLEARING,
    Posting,
    payable_account,
    transfer,
    wallet_account,
)
from ledger.domain.read import EventRead, PostingsRead, UuidOrText
from ledger.domain.stamped import StampedEvent, event_time
from ledger.errors import PaymentStateConflictError, RefundExceedsPaymentError


class PaymentView(TypedDict):
    """What a caller is told about a payment (ids as strings, amounts in kopecks)."""

    id: str
    status: str
    amount: int
    refunded: int
    method: str
    payer_id: str
    account_id: str
    supplier_id: str
    account_number: str
    bill_id: str | None
    document_id: str | None
    wallet_id: str | None
    recipient: dict[str, str]


class PaymentStatus(StrEnum):
    """The one list of payment statuses, in the order the API documents them.

    A `Payment` moves through the first five. The read side shows a succeeded payment as
    `partially_refunded` or `refunded` once refunds are made (the aggregate stays `succeeded`,
    with a growing `refunded`, so that it can refund again), and an annulled bank notice — the
    other way money reaches an account — as `annulled`.
    """

    REQUIRES_CONFIRMATION = "requires_confirmation"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    ANNULLED = "annulled"


def refund_status(refunded: int, amount: int) -> PaymentStatus:
    """How a succeeded payment of `amount` is shown once `refunded` of it went back."""
    return PaymentStatus.REFUNDED if refunded >= amount else PaymentStatus.PARTIALLY_REFUNDED


class PaymentMethod(StrEnum):
    CARD = "card"
    WALLET = "wallet"


class Payment(Aggregate):
    TOPIC = "kvit.payment"

    class Event(StampedEvent):
        pass

    class Created(Aggregate.Created):
        TOPIC = "kvit.payment.created"
        payer_id: str
        account_id: UUID
        supplier_id: UUID
        account_number: str
        bill_id: UUID | None
        document_id: str | None
        amount: int
        method: str
        wallet_id: UUID | None
        email: str | None
        recipient: dict[str, str]

        class Read(EventRead, Protocol):
            payer_id: str
            account_id: UuidOrText
            supplier_id: UuidOrText
            account_number: str
            bill_id: UuidOrText | None
            document_id: str | None
            amount: int
            method: str
            wallet_id: UuidOrText | None
            email: str | None
            recipient: dict[str, str]

    @event(Created)
    def __init__(
        self,
        *,
        id: UUID,
        payer_id: str,
        account_id: UUID,
        supplier_id: UUID,
        account_number: str,
        bill_id: UUID | None,
        document_id: str | None,
        amount: int,
        method: str,
        wallet_id: UUID | None,
        email: str | None,
        recipient: dict[str, str],
    ) -> None:
        self.payer_id = payer_id
        self.account_id = account_id
        self.supplier_id = supplier_id
        self.account_number = account_number
        self.bill_id = bill_id
        self.document_id = document_id
        self.amount = amount
        self.method = PaymentMethod(method)
        self.wallet_id = wallet_id
        self.email = email
        self.recipient = recipient
        self.status = PaymentStatus.REQUIRES_CONFIRMATION
        self.refunded = 0
        self.refund_ids: list[str] = []
        self.acquirer_ref: str | None = None
        self.failure_reason: str | None = None
        self.status_history: list[tuple[str, datetime]] = [(self.status, self.created_on)]

    # --- lifecycle -----------------------------------------------------------------------------
    def confirm(self) -> None:
        self._require({PaymentStatus.REQUIRES_CONFIRMATION}, "confirm")
        self._confirmed()

    class Confirmed(Event):
        TOPIC = "kvit.payment.confirmed"

        class Read(EventRead, Protocol):
            pass

    @event(Confirmed)
    def _confirmed(self) -> None:
        self._move_to(PaymentStatus.PROCESSING)

    def succeed(self, *, acquirer_ref: str | None = None) -> list[Posting]:
        self._require({PaymentStatus.PROCESSING}, "succeed")
        postings = transfer(debit=self._source(), credit=self._payable(), amount=self.amount)
        self._succeeded(acquirer_ref=acquirer_ref, postings=postings)
        return postings

    class Succeeded(Event):
        TOPIC = "kvit.payment.succeeded"
        acquirer_ref: str | None
        postings: list[Posting]

        class Read(PostingsRead, Protocol):
            acquirer_ref: str | None

    @event(Succeeded)
    def _succeeded(self, *, acquirer_ref: str | None, postings: list[Posting]) -> None:
        self.acquirer_ref = acquirer_ref
        self._move_to(PaymentStatus.SUCCEEDED)

    def fail(self, *, reason: str, acquirer_ref: str | None = None) -> None:
        self._require({PaymentStatus.PROCESSING}, "fail")
        self._failed(reason=reason, acquirer_ref=acquirer_ref)

    class Failed(Event):
        TOPIC = "kvit.payment.failed"
        reason: str
        acquirer_ref: str | None

        class Read(EventRead, Protocol):
            reason: str
            acquirer_ref: str | None

    @event(Failed)
    def _failed(self, *, reason: str, acquirer_ref: str | None) -> None:
        self.failure_reason = reason
        self.acquirer_ref = acquirer_ref
        self._move_to(PaymentStatus.FAILED)

    def cancel(self, *, reason: str) -> None:
        self._require({PaymentStatus.REQUIRES_CONFIRMATION}, "cancel")
        self._canceled(reason=reason)

    def cancel_at_acquirer(self, *, reason: str) -> None:
        """A card payment in `processing` whose session the acquirer confirms it closed before
        any money moved (the payer left the payment page): the one cancel allowed there."""
        self._require({PaymentStatus.PROCESSING}, "cancel")
        if self.method != PaymentMethod.CARD:
            raise PaymentStateConflictError(
                f"cannot cancel {self.method} payment {self.id} at the acquirer",
                payment_id=str(self.id),
                status=str(self.status),
                command="cancel",
            )
        self._canceled(reason=reason)

    class Canceled(Event):
        TOPIC = "kvit.payment.canceled"
        reason: str

        class Read(EventRead, Protocol):
            reason: str

    @event(Canceled)
    def _canceled(self, *, reason: str) -> None:
        self.failure_reason = reason
        self._move_to(PaymentStatus.CANCELED)

    # --- refunds -------------------------------------------------------------------------------
    @property
    def refundable(self) -> int:
        return self.amount - self.refunded if self.status == PaymentStatus.SUCCEEDED else 0

    def refund(self, *, refund_id: UUID, amount: int) -> list[Posting]:
        self._require({PaymentStatus.SUCCEEDED}, "refund")
        if amount > self.refundable:
            raise RefundExceedsPaymentError(
                f"payment {self.id} can refund at most {self.refundable}, asked {amount}",
                payment_id=str(self.id),
                refundable=self.refundable,
                amount=amount,
            )
        postings = transfer(debit=self._payable(), credit=self._source(), amount=amount)
        self._refunded(refund_id=refund_id, amount=amount, postings=postings)
        return postings

    class Refunded(Event):
        TOPIC = "kvit.payment.refunded"
        refund_id: UUID
        amount: int
        postings: list[Posting]

        class Read(PostingsRead, Protocol):
            refund_id: UuidOrText
            amount: int

    @event(Refunded)
    def _refunded(self, *, refund_id: UUID, amount: int, postings: list[Posting]) -> None:
        self.refunded += amount
        self.refund_ids.append(str(refund_id))

    # --- helpers -------------------------------------------------------------------------------
    def _source(self) -> str:
        """Where the money comes from: the payer's wallet, or the acquirer for a card."""
        if self.method == PaymentMethod.WALLET:
            assert self.wallet_id is not None
            return wallet_account(self.wallet_id)
        return ACQUIRER_CLEARING

    def _payable(self) -> str:
        return payable_account(self.supplier_id, self.account_id)

    def _move_to(self, status: PaymentStatus) -> None:
        self.status = status
        self.status_history.append((status, event_time(self)))

    def _require(self, allowed: set[PaymentStatus], command: str) -> None:
        if self.status not in allowed:
            raise PaymentStateConflictError(
                f"cannot {command} payment {self.id}: it is {self.status}",
                payment_id=str(self.id),
                status=str(self.status),
                command=command,
            )

    def view(self) -> PaymentView:
        return {
            "id": str(self.id),
            "status": str(self.status),
            "amount": self.amount,
            "refunded": self.refunded,
            "method": str(self.method),
            "payer_id": self.payer_id,
            "account_id": str(self.account_id),
            "supplier_id": str(self.supplier_id),
            "account_number": self.account_number,
            "bill_id": str(self.bill_id) if self.bill_id else None,
            "document_id": self.document_id,
            "wallet_id": str(self.wallet_id) if self.wallet_id else None,
            "recipient": self.recipient,
        }


def came_by_card(succeeded: Payment.Succeeded.Read) -> bool:
    """Whether a succeeded payment's money came through the acquirer (a card payment), told
    from the event alone: a follower that wants card payments skips the rest unloaded."""
    return any(posting["account"] == ACQUIRER_CLEARING for posting in succeeded.postings)
