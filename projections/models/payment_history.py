"""Payment history: one row per payment with its current status, and a journal of changes.

Statuses are the payment's own (`PaymentStatus`), except that a succeeded payment shows
`partially_refunded` once part of it is refunded and `refunded` once all of it is. `period` is
the billing period of the bill paid, looked up in this model's own copy of bill periods (read
models never read each other).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from ledger.domain import Bill, Payment, PaymentStatus
from ledger.domain.payment import refund_status
from projections.models.base import ReadModel, applies, id_text
from projections.staged import StagedRows
from projections.tables import BILL_PERIOD, PAYMENT, PAYMENT_EVENT, Table
from storage.log import Logged

CREATED = Payment.Created.TOPIC
# What `json.dumps(..., ensure_ascii=False, sort_keys=True)` gives, without building an
# encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
# Recipients are a supplier's requisites: a few distinct ones repeat across every payment, so
# their text is remembered (keyed by their items, in order) instead of encoded each time.
_RECIPIENTS: dict[tuple[Any, ...], str] = {}
_RECIPIENTS_LIMIT = 4096


def _recipient_json(recipient: Any) -> str:
    # Only text values are remembered: 1, 1.0 and True are equal keys but different JSON.
    if type(recipient) is not dict or not all(
        type(v) is str or v is None for v in recipient.values()
    ):
        return _encode(recipient)
    key = tuple(recipient.items())
    text = _RECIPIENTS.get(key)
    if text is None:
        if len(_RECIPIENTS) >= _RECIPIENTS_LIMIT:
            _RECIPIENTS.clear()
        text = _RECIPIENTS[key] = _encode(recipient)
    return text


def _bill_paid(logged: Logged) -> str | None:
    event: Payment.Created.Read = logged.event
    return id_text(event.bill_id)


class PaymentHistory(ReadModel):
    name = "payment_history"
    tables: ClassVar[tuple[Table, ...]] = (PAYMENT, PAYMENT_EVENT, BILL_PERIOD)

    def __init__(self) -> None:
        super().__init__()
        # Events of payments that already exist (their rows may be in the database).
        self.later_topics = self.topics - {Bill.Issued.TOPIC, CREATED}

    def prefetch(self, staged: StagedRows, events: Sequence[Logged]) -> None:
        staged.assume_new(PAYMENT, (e.originator_id for e in events if e.topic == CREATED))
        staged.load(PAYMENT, (e.originator_id for e in events if e.topic in self.later_topics))
        # Only a payment's creation reads a bill's period (and only it names a bill).
        staged.load(BILL_PERIOD, (_bill_paid(e) for e in events if e.topic == CREATED))

    @applies(Bill.Issued)
    def bill_issued(self, staged: StagedRows, logged: Logged) -> None:
        event: Bill.Issued.Read = logged.event
        staged.put(
            BILL_PERIOD,
            {
                "bill_id": logged.originator_id,
                "period": event.period,
                "position": logged.position,
            },
        )

    @applies(Payment.Created)
    def created(self, staged: StagedRows, logged: Logged) -> None:
        event: Payment.Created.Read = logged.event
        bill_id = id_text(event.bill_id)
        bill = staged.get(BILL_PERIOD, bill_id) if bill_id else None
        row = {
            "payment_id": logged.originator_id,
            "payer_id": event.payer_id,
            "account_id": str(event.account_id),
            "supplier_id": str(event.supplier_id),
            "account_number": event.account_number,
            "bill_id": bill_id,
            "document_id": event.document_id,
            "period": bill["period"] if bill else None,
            "amount": event.amount,
            "refunded": 0,
            "method": str(event.method),
            "wallet_id": id_text(event.wallet_id),
            "recipient": _recipient_json(event.recipient),
            "status": PaymentStatus.REQUIRES_CONFIRMATION.value,
            "failure_reason": None,
            "acquirer_ref": None,
            "created_at": logged.at,
            "updated_at": logged.at,
            "created_position": logged.position,
            "position": logged.position,
        }
        staged.put(PAYMENT, row)
        self._journal(staged, logged, row, event.amount)

    @applies(Payment.Confirmed)
    def confirmed(self, staged: StagedRows, logged: Logged) -> None:
        self._move(staged, logged, status=PaymentStatus.PROCESSING.value)

    @applies(Payment.Succeeded)
    def succeeded(self, staged: StagedRows, logged: Logged) -> None:
        event: Payment.Succeeded.Read = logged.event
        self._move(
            staged, logged, status=PaymentStatus.SUCCEEDED.value, acquirer_ref=event.acquirer_ref
        )

    @applies(Payment.Failed)
    def failed(self, staged: StagedRows, logged: Logged) -> None:
        event: Payment.Failed.Read = logged.event
        self._move(
            staged,
            logged,
            status=PaymentStatus.FAILED.value,
            failure_reason=event.reason,
            acquirer_ref=event.acquirer_ref,
        )

    @applies(Payment.Canceled)
    def canceled(self, staged: StagedRows, logged: Logged) -> None:
        event: Payment.Canceled.Read = logged.event
        self._move(staged, logged, status=PaymentStatus.CANCELED.value, failure_reason=event.reason)

    @applies(Payment.Refunded)
    def refunded(self, staged: StagedRows, logged: Logged) -> None:
        event: Payment.Refunded.Read = logged.event
        row = staged.need(PAYMENT, logged.originator_id)
        refunded = row["refunded"] + event.amount
        status = refund_status(refunded, row["amount"]).value
        self._move(staged, logged, status=status, refunded=refunded, amount=event.amount)

    def _move(
        self, staged: StagedRows, logged: Logged, *, amount: int | None = None, **changes: Any
    ) -> None:
        row = staged.need(PAYMENT, logged.originator_id)
        row.update(changes, updated_at=logged.at, position=logged.position)
        staged.put(PAYMENT, row)
        self._journal(staged, logged, row, row["amount"] if amount is None else amount)

    def _journal(
        self, staged: StagedRows, logged: Logged, row: dict[str, Any], amount: int
    ) -> None:
        staged.append(
            PAYMENT_EVENT,
            {
                "position": logged.position,
                "payment_id": row["payment_id"],
                "kind": logged.topic.rsplit(".", 1)[-1],
                "status": row["status"],
                "amount": amount,
                "at": logged.at,
            },
        )
