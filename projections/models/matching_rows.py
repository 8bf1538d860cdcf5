"""What matching reads, in bulk: the rows of every account a chunk of the log touches.

Matching (projections/models/matching.py) re-matches an account from all of its bills and
receipts. Reading them one account at a time costs a query per account, so the chunk's
accounts are listed first (`prefetch`) and their rows loaded in one query per table; an
index, account -> keys of its rows, is kept in the staged rows' scratch for the rule to read.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.domain import BankNotice, Bill, Payment, PersonalAccount
from projections.models.base import id_text
from projections.staged import StagedRows
from projections.tables import MATCH_ACCOUNT, MATCH_BILL, MATCH_RECEIPT, Table
from storage.log import Logged

SCOPE = "matching"
"""The prefix of the index's scratch entries (the model's name)."""
CREATED, ACCEPTED = Payment.Created.TOPIC, BankNotice.Accepted.TOPIC
NameAnAccount = Bill.Issued.Read | Payment.Created.Read | BankNotice.Accepted.Read
NAME_AN_ACCOUNT = frozenset({Bill.Issued.TOPIC, CREATED, ACCEPTED})
NameABill = PersonalAccount.BillWithdrawn.Read | Payment.Created.Read | BankNotice.Accepted.Read
ACCOUNT_TOPICS = frozenset({PersonalAccount.BillAdded.TOPIC, PersonalAccount.BillWithdrawn.TOPIC})
"""The account's own events matching follows (about their originator)."""


def _account_named(logged: Logged) -> str | None:
    """The account an event names (the account's own events are about their originator)."""
    if logged.topic not in NAME_AN_ACCOUNT:
        return None
    event: NameAnAccount = logged.event
    return str(event.account_id)


def _bills_named(logged: Logged) -> tuple[str | None, ...]:
    """The bills an event about bills names (a receipt's named bill is looked up as well)."""
    if logged.topic == Bill.Issued.TOPIC:
        return (logged.originator_id,)
    if logged.topic == PersonalAccount.BillAdded.TOPIC:
        added: PersonalAccount.BillAdded.Read = logged.event
        return (id_text(added.bill_id), id_text(added.replaces))
    if logged.topic in (PersonalAccount.BillWithdrawn.TOPIC, CREATED, ACCEPTED):
        event: NameABill = logged.event
        return (id_text(event.bill_id),)
    return ()


def prefetch(staged: StagedRows, events: Sequence[Logged]) -> None:
    """Load, in a few queries, the receipts, accounts and bills the chunk's events touch."""
    new = {e.originator_id for e in events if e.topic in (CREATED, ACCEPTED)}
    staged.assume_new(MATCH_RECEIPT, new)
    staged.load(MATCH_RECEIPT, {e.originator_id for e in events} - new)
    named = {a for e in events if (a := _account_named(e)) is not None}
    staged.load(MATCH_ACCOUNT, named)
    # Every account the chunk touches has its bills read when it is matched (`finish`):
    # list them all in one query rather than one query each.
    accounts = {e.originator_id for e in events if e.topic in ACCOUNT_TOPICS} | named
    for row in staged.cached(MATCH_RECEIPT):
        if row["receipt_id"] not in new:
            accounts.add(row["account_id"])
    of_accounts(staged, MATCH_BILL, accounts)
    # The bills the events name that those did not include (new ones), in one query.
    listed = {row["bill_id"] for row in staged.cached(MATCH_BILL)}
    staged.load(MATCH_BILL, {b for e in events for b in _bills_named(e)} - listed)


def _index(staged: StagedRows, table: Table) -> dict[str, set[str]]:
    index: dict[str, set[str]] = staged.scratch.setdefault(f"{SCOPE}.{table.name}", {})
    return index


def of_account(staged: StagedRows, table: Table, account_id: str) -> set[str]:
    """Keys of the account's rows in `table` (bills or receipts), loaded once per staged."""
    return of_accounts(staged, table, {account_id})[account_id]


def of_accounts(staged: StagedRows, table: Table, accounts: set[str]) -> dict[str, set[str]]:
    """The index, account -> keys of its rows in `table`, with `accounts` in it: those
    missing are loaded in one query and indexed in one pass over the staged rows."""
    index = _index(staged, table)
    missing = {a for a in accounts if a not in index}  # not `- index.keys()`: O(index)
    if missing:
        staged.load(table, missing, column="account_id")
        for account_id in missing:
            index[account_id] = set()
        key = table.key[0]
        for row in staged.cached(table):
            if row["account_id"] in missing:
                index[row["account_id"]].add(row[key])
    return index


def list_new(staged: StagedRows, table: Table, account_id: str, key: str) -> None:
    """A row created by this chunk joins its account's keys if they are listed already; if
    not, listing them later finds it among the staged rows."""
    listed = staged.scratch.get(f"{SCOPE}.{table.name}", {})
    if account_id in listed:
        listed[account_id].add(key)
