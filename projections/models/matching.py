"""Matching (квитирование): every payment and bank notice, the bill lines it paid, its status,
and a journal of the day's money movements per supplier (the supplier register).

The rule and the statuses are in projections/matching.py. This model keeps its own copy of
what the rule needs (accounts, bills with their lines, receipts) and re-matches, once per
chunk of the log, every account the chunk touched (`finish`), so rows do not depend on chunk
boundaries.

`match_receipt` has one row per payment (from its creation) and per notice. `match_move` has
one row per movement of money: `received` (a payment succeeded, a notice was accepted),
`refunded`, `annulled`; each is dated `day`, the calendar day of the event's time in
Europe/Moscow — the day a Russian bank statement puts it on.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from ledger.domain import BankNotice, Bill, Payment, PaymentStatus, PersonalAccount
from ledger.domain.payment import refund_status
from ledger.domain.read import EventRead
from projections import matching
from projections.models import matching_rows
from projections.models.base import ReadModel, applies, id_text
from projections.models.matching_rows import list_new, of_account, of_accounts
from projections.staged import RowDict, StagedRows
from projections.tables import MATCH_ACCOUNT, MATCH_BILL, MATCH_MOVE, MATCH_RECEIPT, Table
from storage.log import Logged

MOSCOW = ZoneInfo("Europe/Moscow")
TOUCHED = "matching.touched"
PAYMENT, NOTICE = "payment", "bank_notice"
RECEIVED, REFUNDED, ANNULLED = "received", "refunded", "annulled"
"""Kinds of money movement (`match_move.kind`)."""
PENDING = "pending"
"""A payment receipt's status until the payment succeeds (then the payment's own statuses)."""
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
CACHED = 2**16
"""Parsed and encoded texts kept (matching reads and writes the same ones over and over)."""


def moscow_day(moment: datetime) -> str:
    return moment.astimezone(MOSCOW).date().isoformat()


class Matching(ReadModel):
    name = "matching"
    tables: ClassVar[tuple[Table, ...]] = (MATCH_ACCOUNT, MATCH_BILL, MATCH_RECEIPT, MATCH_MOVE)

    def prefetch(self, staged: StagedRows, events: Sequence[Logged]) -> None:
        matching_rows.prefetch(staged, events)

    def _bill(self, staged: StagedRows, bill_id: str, account_id: str, position: int) -> RowDict:
        row = staged.get(MATCH_BILL, bill_id)
        if row is None:
            of_account(staged, MATCH_BILL, account_id).add(bill_id)
            row = staged.put(
                MATCH_BILL,
                {
                    "bill_id": bill_id,
                    "account_id": account_id,
                    "document_id": None,
                    "period": None,
                    "lines": "[]",
                    "matched": "[]",
                    "added": 0,
                    "withdrawn": 0,
                    "replaced_by": None,
                    "added_position": 0,
                    "position": position,
                },
            )
        return row

    def _touch(self, staged: StagedRows, account_id: str, appended: str | None = None) -> None:
        """Mark the account for matching at the end of the batch: all of it again, or — when
        all that happened is money received that names no bill or period (`appended`) — only
        the new receipts, which by the rule just take what is left (see `_append`)."""
        touched: dict[str, list[str] | None] = staged.scratch.setdefault(TOUCHED, {})
        if appended is None:
            touched[account_id] = None
        elif account_id not in touched:
            touched[account_id] = [appended]
        elif (new := touched[account_id]) is not None:
            new.append(appended)

    # --- accounts and bills -----------------------------------------------------------------
    @applies(PersonalAccount.Opened)
    def account_opened(self, staged: StagedRows, logged: Logged) -> None:
        event: PersonalAccount.Opened.Read = logged.event
        row = {
            "account_id": logged.originator_id,
            "supplier_id": str(event.supplier_id),
            "account_number": event.account_number,
            "position": logged.position,
        }
        staged.put(MATCH_ACCOUNT, row)

    @applies(Bill.Issued)
    def bill_issued(self, staged: StagedRows, logged: Logged) -> None:
        event: Bill.Issued.Read = logged.event
        account_id = str(event.account_id)
        bill = self._bill(staged, logged.originator_id, account_id, logged.position)
        lines = [[line["service"], line["amount"]] for line in event.lines]
        bill.update(
            document_id=event.document_id,
            period=event.period,
            lines=_encode(lines),
            position=logged.position,
        )
        staged.put(MATCH_BILL, bill)
        self._touch(staged, account_id)

    @applies(PersonalAccount.BillAdded)
    def bill_added(self, staged: StagedRows, logged: Logged) -> None:
        event: PersonalAccount.BillAdded.Read = logged.event
        account_id = logged.originator_id
        bill = self._bill(staged, str(event.bill_id), account_id, logged.position)
        bill.update(added=1, added_position=logged.position, position=logged.position)
        if event.replaces is not None:
            old = staged.need(MATCH_BILL, str(event.replaces))
            old.update(withdrawn=1, replaced_by=bill["bill_id"], position=logged.position)
            staged.put(MATCH_BILL, old)
        staged.put(MATCH_BILL, bill)
        self._touch(staged, account_id)

    @applies(PersonalAccount.BillWithdrawn)
    def bill_withdrawn(self, staged: StagedRows, logged: Logged) -> None:
        event: PersonalAccount.BillWithdrawn.Read = logged.event
        bill = staged.need(MATCH_BILL, str(event.bill_id))
        bill.update(withdrawn=1, position=logged.position)
        staged.put(MATCH_BILL, bill)
        self._touch(staged, logged.originator_id)

    # --- receipts -----------------------------------------------------------------------------
    @applies(Payment.Created)
    def payment_created(self, staged: StagedRows, logged: Logged) -> None:
        event: Payment.Created.Read = logged.event
        self._receipt(
            staged,
            logged,
            kind=PAYMENT,
            account_id=str(event.account_id),
            supplier_id=str(event.supplier_id),
            payer_id=event.payer_id,
            account_number=event.account_number,
            method=str(event.method),
            bill_id=id_text(event.bill_id),
            document_id=event.document_id,
            named_period=None,
            amount=event.amount,
            status=PENDING,
        )

    @applies(Payment.Succeeded)
    def payment_succeeded(self, staged: StagedRows, logged: Logged) -> None:
        row = staged.need(MATCH_RECEIPT, logged.originator_id)
        row.update(
            received=1,
            status=PaymentStatus.SUCCEEDED.value,
            received_at=logged.at,
            received_position=logged.position,
            position=logged.position,
        )
        self._moved(staged, logged, row, RECEIVED, row["amount"])

    @applies(Payment.Refunded)
    def payment_refunded(self, staged: StagedRows, logged: Logged) -> None:
        event: Payment.Refunded.Read = logged.event
        row = staged.need(MATCH_RECEIPT, logged.originator_id)
        row["reversed"] += event.amount
        row["status"] = refund_status(row["reversed"], row["amount"]).value
        row["position"] = logged.position
        self._moved(staged, logged, row, REFUNDED, event.amount)

    @applies(BankNotice.Accepted)
    def notice_accepted(self, staged: StagedRows, logged: Logged) -> None:
        event: BankNotice.Accepted.Read = logged.event
        account_id = str(event.account_id)
        account = staged.get(MATCH_ACCOUNT, account_id)
        row = self._receipt(
            staged,
            logged,
            kind=NOTICE,
            account_id=account_id,
            supplier_id=str(event.supplier_id),
            payer_id=None,
            account_number=account["account_number"] if account else None,
            method=NOTICE,
            bill_id=id_text(event.bill_id),
            document_id=event.document_id,
            named_period=event.period,
            amount=event.amount,
            status=PaymentStatus.SUCCEEDED.value,
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
        self._moved(staged, logged, row, RECEIVED, event.amount, event.commission)

    @applies(BankNotice.Annulled)
    def notice_annulled(self, staged: StagedRows, logged: Logged) -> None:
        row = staged.need(MATCH_RECEIPT, logged.originator_id)
        row.update(
            reversed=row["amount"], status=PaymentStatus.ANNULLED.value, position=logged.position
        )
        self._moved(staged, logged, row, ANNULLED, row["amount"])

    def _receipt(self, staged: StagedRows, logged: Logged, **fields: Any) -> RowDict:
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
        list_new(staged, MATCH_RECEIPT, row["account_id"], row["receipt_id"])
        named = staged.get(MATCH_BILL, row["bill_id"]) if row["bill_id"] else None
        row["period"] = named["period"] if named is not None else row["named_period"]
        staged.put(MATCH_RECEIPT, row)
        return row  # nothing to match until money is received

    def _moved(
        self,
        staged: StagedRows,
        logged: Logged,
        row: RowDict,
        kind: str,
        amount: int,
        commission: int = 0,
    ) -> None:
        event: EventRead = logged.event
        row["updated_at"] = logged.at
        staged.put(MATCH_RECEIPT, row)
        staged.append(
            MATCH_MOVE,
            {
                "position": logged.position,
                "receipt_id": row["receipt_id"],
                "supplier_id": row["supplier_id"],
                "account_id": row["account_id"],
                "day": moscow_day(event.timestamp),
                "kind": kind,
                "channel": row["bank_bik"] or row["method"],
                "amount": amount,
                "commission": commission,
                "at": logged.at,
            },
        )
        unnamed = kind == RECEIVED and not (row["bill_id"] or row["named_period"])
        self._touch(staged, row["account_id"], row["receipt_id"] if unnamed else None)

    # --- the rule -----------------------------------------------------------------------------
    touched = TOUCHED

    def refinish(self, staged: StagedRows, keys: Collection[str]) -> None:
        accounts = set(keys)
        of_accounts(staged, MATCH_BILL, accounts)
        staged.scratch[TOUCHED] = dict.fromkeys(accounts)  # each matched again in full
        self.finish(staged)

    def finish(self, staged: StagedRows) -> None:
        touched: dict[str, list[str] | None] = staged.scratch.pop(TOUCHED, {})
        # The receipts of every account matched again in full, in one query.
        of_accounts(staged, MATCH_RECEIPT, {a for a, new in touched.items() if new is None})
        for account_id, appended in sorted(touched.items()):
            if appended is None:
                self._rematch(staged, account_id)
            else:
                self._append(staged, account_id, appended)

    def _current_bills(
        self, staged: StagedRows, account_id: str
    ) -> tuple[dict[str, RowDict], dict[str, RowDict]]:
        ids = of_account(staged, MATCH_BILL, account_id)
        bills = {b: staged.need(MATCH_BILL, b) for b in ids}
        current = {b: row for b, row in bills.items() if row["added"] and not row["withdrawn"]}
        return bills, current

    def _append(self, staged: StagedRows, account_id: str, appended: list[str]) -> None:
        """New receipts naming nothing come last in both passes of the rule, so they take
        what the account's earlier receipts left on the lines, and change nothing for those:
        the same result as `_rematch`, without going over the account's whole history."""
        _, current = self._current_bills(staged, account_id)
        left = {}
        for bill_id, bill in current.items():
            lines = _parsed(bill["lines"])
            dues = matching.line_dues([a for _, a in lines])
            taken = _parsed(bill["matched"]) or [0] * len(lines)
            left[bill_id] = tuple(
                (s, d - t) for (s, _), d, t in zip(lines, dues, taken, strict=True)
            )
        rows = [staged.need(MATCH_RECEIPT, r) for r in appended]
        result = matching.match(
            (self._input(row, None) for row in rows),
            (self._bill_input(bill, left[b]) for b, bill in current.items()),
        )
        self._store(staged, rows, result, current, add=True)

    def _input(self, row: RowDict, named: str | None) -> matching.Receipt:
        return matching.Receipt(
            row["receipt_id"],
            row["received_position"] or row["created_position"],
            bool(row["received"]),
            row["amount"],
            row["reversed"],
            named,
            bool(row["bill_id"] or row["named_period"]),
        )

    @staticmethod
    def _bill_input(bill: RowDict, lines: tuple[tuple[str, int], ...]) -> matching.BillLines:
        return matching.BillLines(
            bill["bill_id"],
            bill["document_id"],
            bill["period"] or "",
            bill["added_position"],
            lines,
        )

    def _store(
        self,
        staged: StagedRows,
        rows: list[RowDict],
        result: dict[str, matching.Match],
        bills: dict[str, RowDict],
        *,
        add: bool,
    ) -> None:
        """Write the receipts' matches, and each bill's matched amount per line (what `_append`
        starts from): added to what it had, or (`add=False`) instead of it."""
        totals = {b: [0] * len(_parsed(bill["lines"])) for b, bill in bills.items()}
        for row in rows:
            found = result[row["receipt_id"]]
            for line in found.lines:
                totals[line.bill_id][line.line] += line.amount
            lines = _lines_json(found.lines)
            if (
                row["match_status"] != found.status
                or row["matched"] != found.matched
                or row["advance"] != found.advance
                or row["lines"] != lines
            ):
                row.update(
                    match_status=found.status,
                    matched=found.matched,
                    advance=found.advance,
                    lines=lines,
                )
                staged.put(MATCH_RECEIPT, row)
        for bill_id, bill in bills.items():
            after = totals[bill_id]
            if add:
                before = _parsed(bill["matched"]) or (0,) * len(after)
                after = [b + t for b, t in zip(before, after, strict=True)]
            # Nothing matched is `[]` (as a new bill has it) even if something was before, so
            # the row does not depend on whether a chunk ended while it was matched.
            stored = _amounts_json(tuple(after)) if any(after) else "[]"
            if stored != bill["matched"]:
                bill["matched"] = stored
                staged.put(MATCH_BILL, bill)

    def _rematch(self, staged: StagedRows, account_id: str) -> None:
        bills, current = self._current_bills(staged, account_id)
        receipts = [
            staged.need(MATCH_RECEIPT, r) for r in of_account(staged, MATCH_RECEIPT, account_id)
        ]
        result = matching.match(
            (self._input(row, self._named_bill(row, bills, current)) for row in receipts),
            (self._bill_input(b, _parsed(b["lines"])) for b in current.values()),
        )
        for row in receipts:  # a named bill's period, as it stands now
            if row["bill_id"] in bills and row["period"] != bills[row["bill_id"]]["period"]:
                row["period"] = bills[row["bill_id"]]["period"]
                staged.put(MATCH_RECEIPT, row)
        # Bills no longer current hold nothing.
        self._store(staged, receipts, result, bills, add=False)

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


@lru_cache(maxsize=CACHED)
def _parsed(text: str) -> tuple[Any, ...]:
    """A bill's `lines` or `matched` JSON, parsed once: every matching of its account reads
    them again, and they seldom change. Immutable, since it is shared."""
    return tuple(tuple(item) if type(item) is list else item for item in json.loads(text))


@lru_cache(maxsize=CACHED)
def _amounts_json(amounts: tuple[int, ...]) -> str:
    """A bill's matched amount per line as stored; mostly the same as at its last matching."""
    return _encode(list(amounts))


@lru_cache(maxsize=CACHED)
def _lines_json(lines: tuple[matching.LineMatch, ...]) -> str:
    """A receipt's matched lines as stored; mostly the same as at its last matching."""
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
