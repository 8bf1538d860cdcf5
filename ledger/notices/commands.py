"""Bank notices' commands as data: receive one, annul one, and what each answers.

Both are naturally idempotent (a notice's id is its posting bank and OrderID), so neither takes
an idempotency key; their handlers are in `ledger/notices/handlers.py`. As values they run in
batches: a bank's register of thousands is one transaction where each line keeps its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict
from uuid import UUID

from ledger.domain import BankNotice
from ledger.engine.command import Command
from ledger.notices.line import NoticeLine


class NoticeResult(TypedDict):
    notice_id: str
    outcome: Literal["accepted", "duplicate", "annulled"]
    account_id: NotRequired[str]
    """The account credited (an accepted notice only)."""


@dataclass(frozen=True, kw_only=True)
class ReceiveNotice(Command[NoticeResult]):
    """Accept one notice of a bank (`bank_bik`), or find that it was accepted before."""

    bank_bik: str
    line: NoticeLine

    @property
    def notice_id(self) -> UUID:
        return BankNotice.id_for(self.bank_bik, self.line.order_id)

    @property
    def record_id(self) -> UUID:
        """What a batch prefetches for this command: the notice, if it exists."""
        return self.notice_id


@dataclass(frozen=True, kw_only=True)
class AnnulNotice(Command[NoticeResult]):
    """Reverse an accepted notice by a new event; the same annulment again changes nothing."""

    bank_bik: str
    order_id: str
    annul_date: str

    @property
    def record_id(self) -> UUID:
        return BankNotice.id_for(self.bank_bik, self.order_id)
