"""Top-up: a card payment into a wallet, credited when the acquirer reports success."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.postings import ACQUIRER_CLEARING, Posting, transfer, wallet_account
from ledger.domain.read import PostingsRead
from ledger.errors import TopUpStateConflictError


class TopUpStatus(StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TopUp(Aggregate):
    TOPIC = "kvit.top_up"

    class Created(Aggregate.Created):
        """Base of this aggregate's creation event (every stored class needs a fixed topic)."""

        TOPIC = "kvit.top_up.created"

    class Requested(Created):
        TOPIC = "kvit.top_up.requested"
        wallet_id: UUID
        payer_id: str
        amount: int

    @event(Requested)
    def __init__(self, *, id: UUID, wallet_id: UUID, payer_id: str, amount: int) -> None:
        self.wallet_id = wallet_id
        self.payer_id = payer_id
        self.amount = amount
        self.status = TopUpStatus.PROCESSING
        self.acquirer_ref: str | None = None

    def succeed(self, *, acquirer_ref: str) -> list[Posting]:
        self._require_processing("succeed")
        postings = transfer(
            debit=ACQUIRER_CLEARING, credit=wallet_account(self.wallet_id), amount=self.amount
        )
        self._succeeded(acquirer_ref=acquirer_ref, postings=postings)
        return postings

    class Succeeded(Aggregate.Event):
        TOPIC = "kvit.top_up.succeeded"
        acquirer_ref: str
        postings: list[Posting]

        class Read(PostingsRead, Protocol):
            acquirer_ref: str

    @event(Succeeded)
    def _succeeded(self, *, acquirer_ref: str, postings: list[Posting]) -> None:
        self.status = TopUpStatus.SUCCEEDED
        self.acquirer_ref = acquirer_ref

    def fail(self, *, reason: str, acquirer_ref: str | None) -> None:
        self._require_processing("fail")
        self._failed(reason=reason, acquirer_ref=acquirer_ref)

    class Failed(Aggregate.Event):
        TOPIC = "kvit.top_up.failed"
        reason: str
        acquirer_ref: str | None

    @event(Failed)
    def _failed(self, *, reason: str, acquirer_ref: str | None) -> None:
        self.status = TopUpStatus.FAILED
        self.acquirer_ref = acquirer_ref

    def _require_processing(self, command: str) -> None:
        if self.status != TopUpStatus.PROCESSING:
            raise TopUpStateConflictError(
                f"cannot {command} top-up {self.id}: it is {self.status}",
                top_up_id=str(self.id),
                status=str(self.status),
            )
