"""Personal account balance: accrued, paid, refunded, due and advance per account, and each
bill's state, with payments applied to bills by the rule in `projections/allocation.py`.

Built from the personal account's own events (which carry every amount) and `Bill.Issued`
(which carries the period and the ИПД). The allocation of payments to bills is a function of
the account's final state, so it is derived once per chunk of the log for each account the
chunk touched (`finish`). Positions: an account row carries the last event about the account
(any of those above); a bill row the last event about that bill itself — its `applied` and
`status` are derived as of its account's position. Either way the rows do not depend on chunk
boundaries.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import ClassVar

from ledger.domain import Bill, PersonalAccount
from ledger.domain.account import proof_of
from projections.allocation import UNPAID, WITHDRAWN, BillInput, allocate, bill_status
from projections.models.base import ReadModel, applies, id_text
from projections.staged import RowDict, StagedRows
from projections.tables import ACCOUNT, ACCOUNT_PAYER, BILL, Table
from storage.log import Logged

ISSUED = Bill.Issued.TOPIC
OPENED = PersonalAccount.Opened.TOPIC
ADDED = PersonalAccount.BillAdded.TOPIC
TOUCHED = "account_balance.touched"
Money = PersonalAccount.PaymentReceived.Read | PersonalAccount.PaymentRefunded.Read
BillEvent = (
    PersonalAccount.BillAdded.Read
    | PersonalAccount.BillWithdrawn.Read
    | PersonalAccount.PaymentReceived.Read
    | PersonalAccount.PaymentRefunded.Read
)
"""The account's events that name a bill."""
NAME_A_BILL = frozenset(
    {
        PersonalAccount.BillAdded.TOPIC,
        PersonalAccount.BillWithdrawn.TOPIC,
        PersonalAccount.PaymentReceived.TOPIC,
        PersonalAccount.PaymentRefunded.TOPIC,
    }
)


class AccountBalance(ReadModel):
    name = "account_balance"
    tables: ClassVar[tuple[Table, ...]] = (ACCOUNT, ACCOUNT_PAYER, BILL)

    # --- loading ----------------------------------------------------------------------------
    def prefetch(self, staged: StagedRows, events: Sequence[Logged]) -> None:
        opened = {e.originator_id for e in events if e.topic == OPENED}
        staged.assume_new(ACCOUNT, opened)
        staged.assume_new(BILL, opened, column="account_id")
        issued = {e.originator_id for e in events if e.topic == ISSUED}
        added = {_bill_of(e) for e in events if e.topic == ADDED}
        staged.assume_new(BILL, issued & added)  # both creating events here: a new bill
        accounts = {_account_of(e) for e in events}
        staged.load(ACCOUNT, accounts)
        self._bills_of_accounts(staged, accounts)
        staged.load(BILL, (_bill_of(e) for e in events))

    def _bills_of_accounts(self, staged: StagedRows, accounts: set[str]) -> dict[str, set[str]]:
        index: dict[str, set[str]] = staged.scratch.setdefault(self.name, {})
        missing = {a for a in accounts if a not in index}
        if missing:
            staged.load(BILL, missing, column="account_id")
            for account in missing:
                index[account] = set()
            for row in staged.cached(BILL):
                if row["account_id"] in missing:
                    index[row["account_id"]].add(row["bill_id"])
        return index

    def _bill(self, staged: StagedRows, bill_id: str, account_id: str, position: int) -> RowDict:
        row = staged.get(BILL, bill_id)
        if row is None:
            row = staged.put(BILL, _new_bill(bill_id, account_id, position))
            self._bills_of_accounts(staged, {account_id})[account_id].add(bill_id)
        return row

    # --- handlers -----------------------------------------------------------------------------
    @applies(PersonalAccount.Opened)
    def opened(self, staged: StagedRows, logged: Logged) -> None:
        event: PersonalAccount.Opened.Read = logged.event
        staged.put(
            ACCOUNT,
            {
                "account_id": logged.originator_id,
                "supplier_id": str(event.supplier_id),
                "supplier_inn": event.supplier_inn,
                "account_number": event.account_number,
                "els": event.els,
                "address": event.address,
                "accrued": 0,
                "paid": 0,
                "refunded": 0,
                "due": 0,
                "advance": 0,
                "position": logged.position,
            },
        )

    @applies(PersonalAccount.PayerLinked)
    def payer_linked(self, staged: StagedRows, logged: Logged) -> None:
        event: PersonalAccount.PayerLinked.Read = logged.event
        row = {
            "account_id": logged.originator_id,
            "payer_id": event.payer_id,
            "proof": proof_of(event),
            "position": logged.position,
        }
        staged.put(ACCOUNT_PAYER, row)

    @applies(Bill.Issued)
    def bill_issued(self, staged: StagedRows, logged: Logged) -> None:
        event: Bill.Issued.Read = logged.event
        account_id = str(event.account_id)
        bill = self._bill(staged, logged.originator_id, account_id, logged.position)
        bill.update(
            document_id=event.document_id,
            period=event.period,
            due_date=event.due_date,
            amount_due=event.amount_due,
            replaces=id_text(event.replaces),
            position=logged.position,
        )
        staged.put(BILL, bill)
        self._touch(staged, account_id, logged.position)

    @applies(PersonalAccount.BillAdded)
    def bill_added(self, staged: StagedRows, logged: Logged) -> None:
        event: PersonalAccount.BillAdded.Read = logged.event
        account_id = logged.originator_id
        bill = self._bill(staged, str(event.bill_id), account_id, logged.position)
        bill.update(
            amount_due=event.amount_due,
            added=1,
            added_position=logged.position,
            replaces=id_text(event.replaces),
            position=logged.position,
        )
        if event.replaces is not None:
            old = staged.need(BILL, str(event.replaces))
            bill["paid_direct"] += old["paid_direct"]
            old.update(withdrawn=1, replaced_by=bill["bill_id"], paid_direct=0)
            old["position"] = logged.position
            staged.put(BILL, old)
        staged.put(BILL, bill)
        self._touch(staged, account_id, logged.position)

    @applies(PersonalAccount.BillWithdrawn)
    def bill_withdrawn(self, staged: StagedRows, logged: Logged) -> None:
        event: PersonalAccount.BillWithdrawn.Read = logged.event
        bill = staged.need(BILL, str(event.bill_id))
        bill.update(withdrawn=1, position=logged.position)
        staged.put(BILL, bill)
        self._touch(staged, logged.originator_id, logged.position)

    @applies(PersonalAccount.PaymentReceived)
    def payment_received(self, staged: StagedRows, logged: Logged) -> None:
        self._money(staged, logged, sign=1, column="paid")

    @applies(PersonalAccount.PaymentRefunded)
    def payment_refunded(self, staged: StagedRows, logged: Logged) -> None:
        self._money(staged, logged, sign=-1, column="refunded")

    def _money(self, staged: StagedRows, logged: Logged, *, sign: int, column: str) -> None:
        event: Money = logged.event
        account = staged.need(ACCOUNT, logged.originator_id)
        account[column] += event.amount
        staged.put(ACCOUNT, account)
        if event.bill_id is not None:
            bill = staged.need(BILL, str(event.bill_id))
            while bill["replaced_by"] is not None:
                bill = staged.need(BILL, bill["replaced_by"])
            bill["paid_direct"] += sign * event.amount
            bill["position"] = logged.position
            staged.put(BILL, bill)
        self._touch(staged, logged.originator_id, logged.position)

    # --- the rule -----------------------------------------------------------------------------
    def _touch(self, staged: StagedRows, account_id: str, position: int) -> None:
        account = staged.need(ACCOUNT, account_id)
        account["position"] = position
        staged.put(ACCOUNT, account)
        staged.scratch.setdefault(TOUCHED, set()).add(account_id)

    touched = TOUCHED

    def finish(self, staged: StagedRows) -> None:
        for account_id in staged.scratch.pop(TOUCHED, ()):
            self._allocate(staged, account_id)

    def refinish(self, staged: StagedRows, keys: Collection[str]) -> None:
        accounts = set(keys)
        staged.load(ACCOUNT, accounts)
        self._bills_of_accounts(staged, accounts)
        staged.scratch[TOUCHED] = accounts
        self.finish(staged)

    def _allocate(self, staged: StagedRows, account_id: str) -> None:
        account = staged.need(ACCOUNT, account_id)
        ids = self._bills_of_accounts(staged, {account_id})[account_id]
        bills = [staged.need(BILL, bill_id) for bill_id in ids]
        current = [b for b in bills if b["added"] and not b["withdrawn"]]
        applied, advance = allocate(
            account["paid"] - account["refunded"],
            (
                BillInput(
                    b["bill_id"],
                    b["period"] or "",
                    b["added_position"],
                    b["amount_due"],
                    b["paid_direct"],
                )
                for b in current
            ),
        )
        for bill in bills:
            if bill["withdrawn"]:
                state = (0, WITHDRAWN)
            elif bill["added"]:
                got = applied[bill["bill_id"]]
                state = (got, bill_status(bill["amount_due"], got))
            else:
                state = (0, UNPAID)
            if (bill["applied"], bill["status"]) != state:
                bill["applied"], bill["status"] = state
                staged.put(BILL, bill)
        accrued = sum(b["amount_due"] for b in current)
        totals = {"accrued": accrued, "due": accrued - sum(applied.values()), "advance": advance}
        if any(account[k] != v for k, v in totals.items()):
            account.update(totals)
            staged.put(ACCOUNT, account)


def _account_of(logged: Logged) -> str:
    if logged.topic == ISSUED:
        issued: Bill.Issued.Read = logged.event
        return str(issued.account_id)
    return logged.originator_id  # the account's own events


def _bill_of(logged: Logged) -> str | None:
    """The bill an event is about, if any."""
    if logged.topic == ISSUED:
        return logged.originator_id
    if logged.topic in NAME_A_BILL:
        event: BillEvent = logged.event
        return id_text(event.bill_id)
    return None


def _new_bill(bill_id: str, account_id: str, position: int) -> RowDict:
    return {
        "bill_id": bill_id,
        "account_id": account_id,
        "document_id": None,
        "period": None,
        "due_date": None,
        "amount_due": 0,
        "paid_direct": 0,
        "applied": 0,
        "status": UNPAID,
        "added": 0,
        "withdrawn": 0,
        "replaces": None,
        "replaced_by": None,
        "added_position": 0,
        "position": position,
    }
