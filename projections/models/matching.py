"""Matching (квитирование): every payment and bank notice, the bill lines it paid, its status,
and a journal of the day's money movements per supplier (the supplier register).

The rule and the statuses are in projections/matching.py. This model keeps its own copy of
what the rule needs (accounts, bills with their lines, receipts) and re-matches, once per
batch, every account the batch touched (`finish`), so rows do not depend on batch boundaries.

`match_receipt` has one row per payment (from its creation) and per notice. `match_move` has
one row per movement of money: `received` (a payment succeeded, a notice was accepted),
`refunded`, `annulled`; each is dated `day`, the calendar day of the event's time in
Europe/Moscow — the day a Russian bank statement puts it on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from eventsourcing.utils import get_topic

from ledger.domain import BankNotice, Bill, Payment, PersonalAccount
from projections import matching
from projections.batch import Batch, RowDict
from projections.models.base import ReadModel
from projections.source import Logged
from projections.tables import MATCH_ACCOUNT, MATCH_BILL, MATCH_MOVE, MATCH_RECEIPT, Table

MOSCOW = ZoneInfo("Europe/Moscow")
TOUCHED = "matching.touched"
CREATED, ACCEPTED = get_topic(Payment.Created), get_topic(BankNotice.Accepted)
PAYMENT, NOTICE = "payment", "bank_notice"
RECEIVED, REFUNDED, ANNULLED = "received", "refunded", "annulled"
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def moscow_day(moment: datetime) -> str:
    return moment.astimezone(MOSCOW).date().isoformat()


class Matching(ReadModel):
    name = "matching"
    tables: ClassVar[tuple[Table, ...]] = (MATCH_ACCOUNT, MATCH_BILL, MATCH_RECEIPT, MATCH_MOVE)
    handles: ClassVar = {
        PersonalAccount.Opened: "account_opened",
        PersonalAccount.BillAdded: "bill_added",
        PersonalAccount.BillWithdrawn: "bill_withdrawn",
        Bill.Issued: "bill_issued",
        Payment.Created: "payment_created",
        Payment.Succeeded: "payment_succeeded",
        Payment.Refunded: "payment_refunded",
        BankNotice.Accepted: "notice_accepted",
        BankNotice.Annulled: "notice_annulled",
    }

    # --- loading ----------------------------------------------------------------------------
    def prefetch(self, batch: Batch, events: Sequence[Logged]) -> None:
        new = {e.originator_id for e in events if e.topic in (CREATED, ACCEPTED)}
        batch.assume_new(MATCH_RECEIPT, new)
        batch.load(MATCH_RECEIPT, {e.originator_id for e in events} - new)
        batch.load(MATCH_ACCOUNT, {_str(getattr(e.event, "account_id", None)) for e in events})

    def _of_account(self, batch: Batch, table: Table, account_id: str) -> set[str]:
        """Keys of the account's rows in `table` (bills or receipts), loaded once per batch."""
        index: dict[str, set[str]] = batch.scratch.setdefault(f"{self.name}.{table.name}", {})
        if account_id not in index:
            batch.load(table, [account_id], column="account_id")
            key = table.key[0]
            index[account_id] = {
                r[key] for r in batch.cached(table) if r["account_id"] == account_id
            }
        return index[account_id]

    def _bill(self, batch: Batch, bill_id: str, account_id: str, position: int) -> RowDict:
        row = batch.get(MATCH_BILL, bill_id)
        if row is None:
            self._of_account(batch, MATCH_BILL, account_id).add(bill_id)
            row = batch.put(
                MATCH_BILL,
                {
                    "bill_id": bill_id,
                    "account_id": account_id,
                    "document_id": None,
                    "period": None,
                    "lines": "[]",
                    "added": 0,
                    "withdrawn": 0,
                    "replaced_by": None,
                    "added_position": 0,
                    "position": position,
                },
            )
        return row

    def _touch(self, batch: Batch, account_id: str) -> None:
        batch.scratch.setdefault(TOUCHED, set()).add(account_id)

    # --- accounts and bills -----------------------------------------------------------------
    def account_opened(self, batch: Batch, logged: Logged) -> None:
        event = logged.event
        row = {
            "account_id": logged.originator_id,
            "supplier_id": str(event.supplier_id),
            "account_number": event.account_number,
            "position": logged.position,
        }
        batch.put(MATCH_ACCOUNT, row)

    def bill_issued(self, batch: Batch, logged: Logged) -> None:
        event, account_id = logged.event, str(logged.event.account_id)
        bill = self._bill(batch, logged.originator_id, account_id, logged.position)
        lines = [[line["service"], line["amount"]] for line in event.lines]
        bill.update(
            document_id=event.document_id,
            period=event.period,
            lines=_encode(lines),
            position=logged.position,
        )
        batch.put(MATCH_BILL, bill)
        self._touch(batch, account_id)

    def bill_added(self, batch: Batch, logged: Logged) -> None:
        event, account_id = logged.event, logged.originator_id
        bill = self._bill(batch, str(event.bill_id), account_id, logged.position)
        bill.update(added=1, added_position=logged.position, position=logged.position)
        if event.replaces is not None:
            old = batch.need(MATCH_BILL, str(event.replaces))
            old.update(withdrawn=1, replaced_by=bill["bill_id"], position=logged.position)
            batch.put(MATCH_BILL, old)
        batch.put(MATCH_BILL, bill)
        self._touch(batch, account_id)

    def bill_withdrawn(self, batch: Batch, logged: Logged) -> None:
        bill = batch.need(MATCH_BILL, str(logged.event.bill_id))
        bill.update(withdrawn=1, position=logged.position)
        batch.put(MATCH_BILL, bill)
        self._touch(batch, logged.originator_id)

    # --- receipts -----------------------------------------------------------------------------
    def payment_created(self, batch: Batch, logged: Logged) -> None:
        event = logged.event
        self._receipt(
            batch,
            logged,
            kind=PAYMENT,
            account_id=str(event.account_id),
            supplier_id=str(event.supplier_id),
            payer_id=event.payer_id,
            account_number=event.account_number,
            method=str(event.method),
            bill_id=_str(event.bill_id),
            document_id=event.document_id,
            named_period=None,
            amount=event.amount,
            status="pending",
        )

    def payment_succeeded(self, batch: Batch, logged: Logged) -> None:
        row = batch.need(MATCH_RECEIPT, logged.originator_id)
        row.update(
            received=1,
            status="succeeded",
            received_at=logged.at,
            received_position=logged.position,
            position=logged.position,
        )
        self._moved(batch, logged, row, RECEIVED, row["amount"])

    def payment_refunded(self, batch: Batch, logged: Logged) -> None:
        row = batch.need(MATCH_RECEIPT, logged.originator_id)
        row["reversed"] += logged.event.amount
        row["status"] = "refunded" if row["reversed"] >= row["amount"] else "partially_refunded"
        row["position"] = logged.position
        self._moved(batch, logged, row, REFUNDED, logged.event.amount)

    def notice_accepted(self, batch: Batch, logged: Logged) -> None:
        event = logged.event
        account_id = str(event.account_id)
        account = batch.get(MATCH_ACCOUNT, account_id)
        row = self._receipt(
            batch,
            logged,
            kind=NOTICE,
            account_id=account_id,
            supplier_id=str(event.supplier_id),
            payer_id=None,
            account_number=account["account_number"] if account else None,
            method=NOTICE,
            bill_id=_str(event.bill_id),
            document_id=event.document_id,
            named_period=event.period,
            amount=event.amount,
            status="succeeded",
            bank_bik=event.bank_bik,
            order_id=event.order_id,
            order_date=event.order_date,
            payer_name=event.payer,
            purpose=event.purpose,
            refs=_encode(event.references),
            commission=event.commission,
            received=1,
            received_at=logged.at,
            received_position=logged.position,
        )
        self._moved(batch, logged, row, RECEIVED, event.amount, event.commission)

    def notice_annulled(self, batch: Batch, logged: Logged) -> None:
        row = batch.need(MATCH_RECEIPT, logged.originator_id)
        row.update(reversed=row["amount"], status=ANNULLED, position=logged.position)
        self._moved(batch, logged, row, ANNULLED, row["amount"])

    def _receipt(self, batch: Batch, logged: Logged, **fields: Any) -> RowDict:
        row: RowDict = {
            "receipt_id": logged.originator_id,
            "bank_bik": None,
            "order_id": None,
            "order_date": None,
            "payer_name": None,
            "purpose": None,
            "refs": None,
            "commission": 0,
            "period": None,
            "reversed": 0,
            "received": 0,
            "match_status": matching.NEW,
            "matched": 0,
            "advance": 0,
            "lines": "[]",
            "created_at": logged.at,
            "received_at": None,
            "updated_at": logged.at,
            "created_position": logged.position,
            "received_position": None,
            "position": logged.position,
            **fields,
        }
        self._of_account(batch, MATCH_RECEIPT, row["account_id"]).add(row["receipt_id"])
        batch.put(MATCH_RECEIPT, row)
        self._touch(batch, row["account_id"])
        return row

    def _moved(
        self,
        batch: Batch,
        logged: Logged,
        row: RowDict,
        kind: str,
        amount: int,
        commission: int = 0,
    ) -> None:
        row["updated_at"] = logged.at
        batch.put(MATCH_RECEIPT, row)
        batch.append(
            MATCH_MOVE,
            {
                "position": logged.position,
                "receipt_id": row["receipt_id"],
                "supplier_id": row["supplier_id"],
                "account_id": row["account_id"],
                "day": moscow_day(logged.event.timestamp),
                "kind": kind,
                "channel": row["bank_bik"] or row["method"],
                "amount": amount,
                "commission": commission,
                "at": logged.at,
            },
        )
        self._touch(batch, row["account_id"])

    # --- the rule -----------------------------------------------------------------------------
    def finish(self, batch: Batch) -> None:
        for account_id in sorted(batch.scratch.pop(TOUCHED, ())):
            self._rematch(batch, account_id)

    def _rematch(self, batch: Batch, account_id: str) -> None:
        bills = {
            b: batch.need(MATCH_BILL, b) for b in self._of_account(batch, MATCH_BILL, account_id)
        }
        current = {b: row for b, row in bills.items() if row["added"] and not row["withdrawn"]}
        receipts = [
            batch.need(MATCH_RECEIPT, r) for r in self._of_account(batch, MATCH_RECEIPT, account_id)
        ]
        inputs = []
        for row in receipts:
            named = self._named_bill(row, bills, current)
            inputs.append(
                matching.Receipt(
                    row["receipt_id"],
                    row["received_position"] or row["created_position"],
                    bool(row["received"]),
                    row["amount"],
                    row["reversed"],
                    named,
                    bool(row["bill_id"] or row["named_period"]),
                )
            )
        result = matching.match(
            inputs,
            (
                matching.BillLines(
                    b["bill_id"],
                    b["document_id"],
                    b["period"] or "",
                    b["added_position"],
                    tuple((s, a) for s, a in json.loads(b["lines"])),
                )
                for b in current.values()
            ),
        )
        for row in receipts:
            found = result[row["receipt_id"]]
            period = row["named_period"]
            if row["bill_id"] in bills:
                period = bills[row["bill_id"]]["period"]
            state = {
                "match_status": found.status,
                "matched": found.matched,
                "advance": found.advance,
                "lines": _lines_json(found.lines),
                "period": period,
            }
            if any(row[k] != v for k, v in state.items()):
                row.update(state)
                batch.put(MATCH_RECEIPT, row)

    @staticmethod
    def _named_bill(
        row: RowDict, bills: dict[str, RowDict], current: dict[str, RowDict]
    ) -> str | None:
        """The current bill the receipt names (by id, following replacements, or by period)."""
        bill_id = row["bill_id"]
        if bill_id is not None:
            while bill_id in bills and bills[bill_id]["replaced_by"] is not None:
                bill_id = bills[bill_id]["replaced_by"]
            return bill_id if bill_id in current else None
        if row["named_period"]:
            same = [b for b in current.values() if b["period"] == row["named_period"]]
            if same:
                return str(min(same, key=lambda b: (b["added_position"], b["bill_id"]))["bill_id"])
        return None


def _lines_json(lines: Sequence[matching.LineMatch]) -> str:
    return _encode(
        [
            {
                "bill_id": line.bill_id,
                "document_id": line.document_id,
                "period": line.period,
                "line": line.line,
                "service": line.service,
                "amount": line.amount,
            }
            for line in lines
        ]
    )
