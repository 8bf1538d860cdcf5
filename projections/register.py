"""Reads of the matching model: a notice's view, match fields for history entries, and the
supplier register of one day (every movement of money for the supplier, with totals).

The register's day is the calendar day of each event's time in Europe/Moscow (see
projections/models/matching.py). Totals: `received` (payments succeeded and notices accepted
that day), `refunded`, `annulled`, `net` = received − refunded − annulled — which is exactly
the credit the day's events put on the supplier's payable accounts — and `commission`, what
the banks kept of that day's accepted notices (never part of `received`). `by_channel` splits
them by posting bank (БИК) or by `card` / `wallet`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from projections.read_models import ReadModels
from projections.tables import MATCH_MOVE, MATCH_RECEIPT, Table
from storage.sql import Tx

MODEL = "matching"
MAX_REGISTER = 100_000
"""A supplier's day is bounded: beyond this the register asks for a narrower look."""


@dataclass(frozen=True)
class MatchedLine:
    bill_id: str
    document_id: str | None
    period: str
    line: int
    service: str
    amount: int


@dataclass(frozen=True)
class ReceiptMatch:
    """A payment's or notice's matching, as the matching model holds it now."""

    receipt_id: str
    kind: str
    """payment | bank_notice"""
    account_id: str
    supplier_id: str
    payer_id: str | None
    account_number: str | None
    method: str
    bank_bik: str | None
    order_id: str | None
    order_date: str | None
    payer_name: str | None
    purpose: str | None
    references: dict[str, str]
    commission: int
    bill_id: str | None
    document_id: str | None
    period: str | None
    amount: int
    reversed: int
    status: str
    match_status: str
    matched: int
    advance: int
    lines: tuple[MatchedLine, ...]
    created_at: str
    received_at: str | None
    updated_at: str
    created_position: int
    position: int
    as_of: int


@dataclass(frozen=True)
class RegisterEntry:
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

    def add(self, entry: RegisterEntry) -> Totals:
        changes = {"count": self.count + 1, "commission": self.commission + entry.commission}
        column = entry.movement
        changes[column] = getattr(self, column) + entry.amount
        return Totals(**{**self.__dict__, **changes})


@dataclass(frozen=True)
class SupplierRegister:
    supplier_id: str
    day: str
    entries: tuple[RegisterEntry, ...]
    totals: Totals
    by_channel: dict[str, Totals] = field(default_factory=dict)
    as_of: int = 0


def _select(
    tx: Tx, table: Table, where: str, params: list[Any], tail: str = ""
) -> list[dict[str, Any]]:
    names = table.column_names
    statement = (
        f"SELECT {', '.join(names)} FROM {tx.store.name('rm_' + table.name)} WHERE {where}{tail}"
    )
    return [dict(zip(names, row, strict=True)) for row in tx.execute(statement, params)]


def _position(tx: Tx) -> int:
    rows = tx.execute(
        f"SELECT position FROM {tx.store.name('rm_tracking')} WHERE projection = %s", [MODEL]
    )
    return int(rows[0][0]) if rows else 0


def receipt_match(row: dict[str, Any], as_of: int) -> ReceiptMatch:
    return ReceiptMatch(
        receipt_id=row["receipt_id"],
        kind=row["kind"],
        account_id=row["account_id"],
        supplier_id=row["supplier_id"],
        payer_id=row["payer_id"],
        account_number=row["account_number"],
        method=row["method"],
        bank_bik=row["bank_bik"],
        order_id=row["order_id"],
        order_date=row["order_date"],
        payer_name=row["payer_name"],
        purpose=row["purpose"],
        references=json.loads(row["refs"]) if row["refs"] else {},
        commission=row["commission"],
        bill_id=row["bill_id"],
        document_id=row["document_id"],
        period=row["period"],
        amount=row["amount"],
        reversed=row["reversed"],
        status=row["status"],
        match_status=row["match_status"],
        matched=row["matched"],
        advance=row["advance"],
        lines=tuple(MatchedLine(**line) for line in json.loads(row["lines"])),
        created_at=row["created_at"],
        received_at=row["received_at"],
        updated_at=row["updated_at"],
        created_position=row["created_position"],
        position=row["position"],
        as_of=as_of,
    )


def matches_of(tx: Tx, receipt_ids: Iterable[str]) -> dict[str, ReceiptMatch]:
    """The matching of each given payment or notice that the model knows (one query)."""
    ids = sorted(set(receipt_ids))
    if not ids:
        return {}
    as_of = _position(tx)
    marks = ", ".join("%s" for _ in ids)
    rows = _select(tx, MATCH_RECEIPT, f"receipt_id IN ({marks})", ids)
    return {row["receipt_id"]: receipt_match(row, as_of) for row in rows}


def notice(rm: ReadModels, notice_id: UUID | str, *, min_position: int = 0) -> ReceiptMatch | None:
    """A bank notice with its match status and matched lines, or None if unknown."""
    rm.wait_for(min_position, [MODEL])
    with rm.store.read() as tx:
        found = matches_of(tx, [str(notice_id)]).get(str(notice_id))
    return found if found is not None and found.kind == "bank_notice" else None


def supplier_register(
    rm: ReadModels, supplier_id: UUID | str, day: str, *, min_position: int = 0
) -> SupplierRegister:
    """Every movement of the supplier's money on `day` (YYYY-MM-DD, Moscow time), in log
    order, with the receipt it belongs to and the day's totals."""
    rm.wait_for(min_position, [MODEL])
    supplier = str(supplier_id)
    with rm.store.read() as tx:
        as_of = _position(tx)
        moves = _select(
            tx,
            MATCH_MOVE,
            "supplier_id = %s AND day = %s",
            [supplier, day],
            f" ORDER BY position LIMIT {MAX_REGISTER}",
        )
        receipts = matches_of(tx, (m["receipt_id"] for m in moves))
    entries = tuple(
        RegisterEntry(
            position=m["position"],
            at=m["at"],
            movement=m["kind"],
            channel=m["channel"],
            amount=m["amount"],
            commission=m["commission"],
            receipt=receipts[m["receipt_id"]],
        )
        for m in moves
    )
    totals, by_channel = Totals(), dict[str, Totals]()
    for entry in entries:
        totals = totals.add(entry)
        by_channel[entry.channel] = by_channel.get(entry.channel, Totals()).add(entry)
    return SupplierRegister(supplier, day, entries, totals, dict(sorted(by_channel.items())), as_of)
