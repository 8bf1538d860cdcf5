"""Balances as of a log position or a moment, recomputed from the event log itself.

The read models' own code is replayed, in a scratch in-memory database, over only the events
that concern the account or wallet asked about (up to the position), so an as-of balance has
exactly the shape and rules of the live one, and does not trust the live read models.
A ledger account's balance is the sum of the postings to it in the log prefix.

A moment becomes a position through `audit.proof.position_at`: the end of the longest
log prefix whose events all happened at or before it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from audit.proof import position_at
from audit.store import AuditStore
from ledger.domain import PersonalAccount
from ledger.domain.postings import postings_of
from projections import queries
from projections.models import account_balance, wallet_balance
from projections.models.base import ReadModel
from projections.models.trial_balance import TrialBalance
from projections.projector import apply_chunk
from projections.results import AccountBalance, LedgerAccountBalance, WalletBalance
from projections.schema import create_table, create_tracking
from projections.tables import LIVE
from projections.tracking import reset
from storage.log import Chunk, Logged, Recorded, domain_event, events_of, head, iter_events
from storage.sql import Store

SCAN_BATCH = 5000
BILL_ADDED = PersonalAccount.BillAdded.TOPIC
# The events that move money are the ones the trial balance follows: one list, so an event
# that gains postings (a bank notice's did) is counted by the model and by these replays alike.
POSTING_TOPICS = tuple(event.TOPIC for event in TrialBalance.handles)


class ScratchStore(Store):
    """An in-memory SQLite read-model store on one connection, gone when closed."""

    def __init__(self) -> None:
        super().__init__("sqlite", ":memory:", None)
        self._connection = sqlite3.connect(":memory:", isolation_level=None)

    def connect(self, *, autocommit: bool = False) -> Any:
        return self._connection

    def close(self) -> None:
        self._connection.close()


class _Reader:
    """Just enough of `ReadModels` for `projections.queries` to read a scratch store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def wait_for(
        self, position: int, names: Iterable[str] | None = None, timeout: float | None = None
    ) -> None:
        return None  # the scratch store holds the whole prefix already


def parse_as_of(text: str | None) -> tuple[int | None, datetime | None]:
    """`as_of` is a log position (an integer) or an ISO 8601 time with a time zone."""
    if text is None:
        return None, None
    cleaned = text.strip()
    if cleaned.isascii() and cleaned.isdigit():
        return int(cleaned), None
    moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("an as-of time needs a time zone, e.g. 2026-03-01T00:00:00+03:00")
    # The log's times are compared as fixed-width UTC text: the moment must be a 4-digit UTC year.
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("an as-of time must fall in the years 1000–9999 (UTC)") from None
    if not 1000 <= utc.year <= 9999:
        raise ValueError("an as-of time must fall in the years 1000–9999 (UTC)")
    return None, moment


def resolve(
    app: Application[UUID],
    store: AuditStore | None,
    *,
    position: int | None = None,
    at: datetime | None = None,
) -> int:
    """The log position an as-of query means (the head when neither is given)."""
    end = head(app)
    if position is not None:
        return min(position, end)
    if at is not None:
        return position_at(app, store, at)
    return end


def _logged(app: Application[UUID], raw: Recorded) -> Logged:
    return domain_event(app, raw)


def _replay(model: ReadModel, events: list[Logged], upto: int) -> ScratchStore:
    scratch = ScratchStore()
    with scratch.transaction(scratch.connect()) as tx:
        for table in model.tables:
            create_table(tx, LIVE, table)
        create_tracking(tx, [model.name])
        apply_chunk(tx, [model], Chunk(events, upto, len(events), False), LIVE)
        reset(tx, model.name, upto, len(events))
    return scratch


def account_as_of(
    app: Application[UUID], store: AuditStore | None, account_id: UUID, upto: int
) -> AccountBalance | None:
    """The personal account's balance and bills after the log prefix up to `upto`."""
    own = events_of(app, [str(account_id)], upto=upto, via=store)
    bills = sorted({_bill_added(_logged(app, r)) for r in own if r.topic == BILL_ADDED})
    issued = [r for r in events_of(app, bills, upto=upto, via=store) if r.version == 1]
    raws = sorted(own + issued, key=lambda r: r.position)
    model = account_balance.AccountBalance()
    events = [_logged(app, r) for r in raws if r.topic in model.topics]
    scratch = _replay(model, events, upto)
    try:
        return queries.account_balance(_Reader(scratch), account_id)
    finally:
        scratch.close()


def _bill_added(logged: Logged) -> str:
    event: PersonalAccount.BillAdded.Read = logged.event
    return str(event.bill_id)


def wallet_as_of(
    app: Application[UUID], store: AuditStore | None, wallet_id: UUID, upto: int
) -> WalletBalance | None:
    model = wallet_balance.WalletBalance()
    raws = events_of(app, [str(wallet_id)], upto=upto, via=store)
    scratch = _replay(model, [_logged(app, r) for r in raws if r.topic in model.topics], upto)
    try:
        return queries.wallet_balance(_Reader(scratch), wallet_id)
    finally:
        scratch.close()


def ledger_account_as_of(app: Application[UUID], name: str, upto: int) -> LedgerAccountBalance:
    """Debits, credits and balance of one ledger account (`wallet:…`, `payable:…:…`,
    `acquirer:clearing`) from the postings in the log prefix up to `upto`."""
    debits = credits = 0
    for _, event in iter_events(app, stop=upto, topics=POSTING_TOPICS, batch=SCAN_BATCH):
        for posting in postings_of(event):
            if posting["account"] == name:
                if posting["amount"] >= 0:
                    debits += posting["amount"]
                else:
                    credits -= posting["amount"]
    return LedgerAccountBalance(name, debits, credits, debits - credits)
