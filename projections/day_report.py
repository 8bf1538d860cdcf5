"""The supplier's day report (реестр платежей поставщику): one day of a supplier's money, every
movement with the receipt (payment or notice) it belongs to, and totals. Not a "register":
that word is a bank's file of notices (ledger/notices/file.py).

The report's day is the calendar day of each event's time in Europe/Moscow (see
projections/models/matching.py). Totals: `received` (payments succeeded and notices accepted
that day), `refunded`, `annulled`, `net` = received − refunded − annulled — which is exactly
the credit the day's events put on the supplier's payable accounts — and `commission`, what
the banks kept of that day's accepted notices (never part of `received`). `by_channel` splits
them by posting bank (БИК) or by `card` / `wallet`.

A day has no size limit: its lines come in pages (keyset on the log position, a JOIN to their
receipts, so no statement grows with the day), and its totals are summed in SQL over the whole
day, never over one page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from projections import cursor as cursors
from projections.errors import InvalidQueryError
from projections.read_models import ReadModels
from projections.receipts import MODEL, ReceiptMatch, log_position, receipt_match
from projections.tables import MATCH_MOVE, MATCH_RECEIPT
from storage.sql import Tx

PAGE = 1_000
MAX_PAGE = 5_000
"""Lines per page of the day report (and per read while a whole day streams)."""
MOVE_COLUMNS = ("position", "at", "kind", "channel", "amount", "commission")


@dataclass(frozen=True)
class DayReportEntry:
    position: int
    at: str
    movement: str
    """received | refunded | annulled"""
    channel: str
    """The posting bank's БИК, or card / wallet."""
    amount: int
    commission: int
    receipt: ReceiptMatch


@dataclass(frozen=True)
class Totals:
    count: int = 0
    received: int = 0
    refunded: int = 0
    annulled: int = 0
    commission: int = 0

    @property
    def net(self) -> int:
        return self.received - self.refunded - self.annulled

    def plus(self, other: Totals) -> Totals:
        return Totals(
            count=self.count + other.count,
            received=self.received + other.received,
            refunded=self.refunded + other.refunded,
            annulled=self.annulled + other.annulled,
            commission=self.commission + other.commission,
        )


@dataclass(frozen=True)
class DayReport:
    """One page of a supplier's day, with the whole day's totals."""

    supplier_id: str
    day: str
    entries: tuple[DayReportEntry, ...]
    totals: Totals
    by_channel: dict[str, Totals] = field(default_factory=dict)
    as_of: int = 0
    next_cursor: str | None = None
    """Pass it back for the next page; None on the day's last page."""


def day_report(
    read_models: ReadModels,
    supplier_id: UUID | str,
    day: str,
    *,
    limit: int = PAGE,
    cursor: str | None = None,
    min_position: int = 0,
) -> DayReport:
    """Movements of the supplier's money on `day` (YYYY-MM-DD, Moscow time), in log order, with
    the receipt each belongs to: at most `limit` of them, after `cursor`; and the whole day's
    totals, from the same snapshot."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidQueryError(f"limit must be 1–{MAX_PAGE}", limit=limit)
    supplier = str(supplier_id)
    filters = {"supplier_id": supplier, "day": day}
    after = cursors.decode(cursor, filters) if cursor is not None else 0
    read_models.wait_for(min_position, [MODEL])
    with read_models.store.read() as tx:
        as_of = log_position(tx)
        entries = _entries(tx, supplier, day, after, limit + 1, as_of)
        totals, by_channel = _totals(tx, supplier, day)
    more = len(entries) > limit
    entries = entries[:limit]
    next_cursor = cursors.encode(entries[-1].position, filters) if more else None
    return DayReport(supplier, day, tuple(entries), totals, by_channel, as_of, next_cursor)


def day_report_pages(
    read_models: ReadModels, supplier_id: UUID | str, day: str, *, min_position: int = 0
) -> Iterator[list[DayReportEntry]]:
    """The whole day's movements in log order, `MAX_PAGE` per read: a day of any size, never
    held in memory, and no connection held while the caller writes a page out. Waits for
    `min_position` before the first page."""
    supplier = str(supplier_id)
    read_models.wait_for(min_position, [MODEL])
    after = 0
    while True:
        with read_models.store.read() as tx:
            entries = _entries(tx, supplier, day, after, MAX_PAGE, log_position(tx))
        if entries:
            yield entries
        if len(entries) < MAX_PAGE:
            return
        after = entries[-1].position


def day_totals(
    read_models: ReadModels, supplier_id: UUID | str, day: str, *, through: int
) -> tuple[Totals, dict[str, Totals]]:
    """The day's totals (and per channel) over its movements up to position `through`: after
    `day_report_pages`, the last line given, so the totals are those lines' sum even when the day
    grew meanwhile (movements only ever append, at higher positions)."""
    with read_models.store.read() as tx:
        return _totals(tx, str(supplier_id), day, through=through)


def _entries(
    tx: Tx, supplier: str, day: str, after: int, limit: int, as_of: int
) -> list[DayReportEntry]:
    """Up to `limit` of the day's movements after position `after`, each with its receipt."""
    moves = ", ".join(f"m.{c}" for c in MOVE_COLUMNS)
    receipts = ", ".join(f"r.{c}" for c in MATCH_RECEIPT.column_names)
    rows = tx.execute(
        f"SELECT {moves}, {receipts} FROM {tx.store.name('rm_' + MATCH_MOVE.name)} m"
        f" JOIN {tx.store.name('rm_' + MATCH_RECEIPT.name)} r ON r.receipt_id = m.receipt_id"
        " WHERE m.supplier_id = %s AND m.day = %s AND m.position > %s"
        f" ORDER BY m.position LIMIT {int(limit)}",
        [supplier, day, after],
    )
    split = len(MOVE_COLUMNS)
    entries = []
    for row in rows:
        position, at, kind, channel, amount, commission = row[:split]
        receipt = dict(zip(MATCH_RECEIPT.column_names, row[split:], strict=True))
        entries.append(
            DayReportEntry(
                position=position,
                at=at,
                movement=kind,
                channel=channel,
                amount=amount,
                commission=commission,
                receipt=receipt_match(receipt, as_of),
            )
        )
    return entries


def _totals(
    tx: Tx, supplier: str, day: str, *, through: int | None = None
) -> tuple[Totals, dict[str, Totals]]:
    """The day's totals and per-channel totals, summed by the database over every movement."""
    bound, params = "", list[Any]([supplier, day])
    if through is not None:
        bound = " AND position <= %s"
        params.append(through)
    rows = tx.execute(
        "SELECT channel, kind, COUNT(*), SUM(amount), SUM(commission)"
        f" FROM {tx.store.name('rm_' + MATCH_MOVE.name)}"
        f" WHERE supplier_id = %s AND day = %s{bound} GROUP BY channel, kind",
        params,
    )
    by_channel: dict[str, Totals] = {}
    for channel, kind, count, amount, commission in rows:
        # SUM of a bigint is a numeric on PostgreSQL (a Decimal): back to integer kopecks.
        group = Totals(count=int(count), commission=int(commission), **{kind: int(amount)})
        by_channel[channel] = by_channel.get(channel, Totals()).plus(group)
    totals = Totals()
    for channel_totals in by_channel.values():
        totals = totals.plus(channel_totals)
    return totals, dict(sorted(by_channel.items()))
