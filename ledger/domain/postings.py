"""Double entry: every event that moves money carries balanced postings.

A posting is `{"account": name, "amount": kopecks}`; a positive amount is a debit, a negative one
a credit. The postings of one event sum to zero, so the sum over the whole log is zero too.
Postings are plain dicts because they are stored in events (the JSON transcoder would turn a
tuple into a list on the way back).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, TypedDict
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

ACQUIRER_CLEARING = "acquirer:clearing"


class Posting(TypedDict):
    account: str
    amount: int


def wallet_account(wallet_id: UUID) -> str:
    """A payer's wallet: a liability of ours, so its balance is the credit side."""
    return f"wallet:{wallet_id}"


@lru_cache(maxsize=65_536)  # a register names the same accounts on many lines
def payable_account(supplier_id: UUID, account_id: UUID) -> str:
    """What we owe a supplier for one personal account (credit balance)."""
    return f"payable:{supplier_id}:{account_id}"


@lru_cache(maxsize=1024)
def bank_clearing_account(bik: str) -> str:
    """What a posting bank owes us for the notices it sent (debit balance until it settles)."""
    return f"bank:{bik}:clearing"


def transfer(*, debit: str, credit: str, amount: int) -> list[Posting]:
    """The two postings that move `amount` from `credit` to `debit`.

    Every event that moves money gets its postings here, so this is where the write side holds
    the invariants of money: an amount is positive, and the postings of one event balance."""
    if amount <= 0:
        raise ValueError(f"a transfer moves a positive amount, got {amount}")
    return balanced([{"account": debit, "amount": amount}, {"account": credit, "amount": -amount}])


def is_balanced(postings: Iterable[Posting]) -> bool:
    return sum(p["amount"] for p in postings) == 0


def balanced(postings: list[Posting]) -> list[Posting]:
    """`postings`, refused (a bug, never a caller's error) unless they sum to zero."""
    if not is_balanced(postings):
        raise ValueError(f"the postings of one event must sum to zero, got {postings}")
    return postings


def balances(postings: Iterable[Posting]) -> dict[str, int]:
    """Debit-positive balance of each ledger account named in `postings`."""
    result: dict[str, int] = {}
    for posting in postings:
        result[posting["account"]] = result.get(posting["account"], 0) + posting["amount"]
    return result


def postings_of(event: DomainEventProtocol[Any]) -> list[Posting]:
    """The postings an event of the log carries (only money-moving events have any): what the
    readers that sum the log use."""
    return list(getattr(event, "postings", None) or [])
