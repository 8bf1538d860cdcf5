"""Trial balance: every ledger account's debits, credits and balance, from the postings that
money-moving events carry; plus a journal of the postings for "as of position" balances."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ledger.domain import BankNotice, Payment, TopUp
from ledger.domain.postings import Posting
from ledger.domain.read import PostingsRead
from projections.models.base import ReadModel, applies
from projections.staged import StagedRows
from projections.tables import LEDGER_ACCOUNT, POSTING, Table
from storage.log import Logged


class TrialBalance(ReadModel):
    name = "trial_balance"
    tables: ClassVar[tuple[Table, ...]] = (LEDGER_ACCOUNT, POSTING)

    def prefetch(self, staged: StagedRows, events: Sequence[Logged]) -> None:
        names = {p["account"] for e in events for p in _postings(e)}
        staged.load(LEDGER_ACCOUNT, names)

    @applies(
        Payment.Succeeded,
        Payment.Refunded,
        TopUp.Succeeded,
        BankNotice.Accepted,
        BankNotice.Annulled,
    )
    def posted(self, staged: StagedRows, logged: Logged) -> None:
        for seq, posting in enumerate(_postings(logged)):
            name, amount = posting["account"], posting["amount"]
            row = staged.get(LEDGER_ACCOUNT, name) or {
                "account": name,
                "debits": 0,
                "credits": 0,
                "balance": 0,
                "position": 0,
            }
            if amount >= 0:
                row["debits"] += amount
            else:
                row["credits"] -= amount
            row["balance"] += amount
            row["position"] = logged.position
            staged.put(LEDGER_ACCOUNT, row)
            staged.append(
                POSTING,
                {"position": logged.position, "seq": seq, "account": name, "amount": amount},
            )


def _postings(logged: Logged) -> list[Posting]:
    """Every event this model follows moves money (its `handles`)."""
    event: PostingsRead = logged.event
    return event.postings
