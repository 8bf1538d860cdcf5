"""Reads of the matching model for one payment or bank notice at a time: its match status,
its matched bill lines, and the notice as `/v1/notices/{id}` shows it (one query each).

A "receipt" here is what the matching model matches to bills: a payment or a bank notice (its
`match_receipt` table). The supplier's day report is projections/day_report.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from projections.read_models import ReadModels
from projections.tables import MATCH_RECEIPT
from storage.sql import Tx

MODEL = "matching"
EMPTY = (None, "", "{}")
"""References nobody gave: not worth a JSON parse on each of a big day's lines."""


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


def log_position(tx: Tx) -> int:
    """How far the matching model has read the log."""
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
        references=json.loads(row["refs"]) if row["refs"] not in EMPTY else {},
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
        lines=tuple(
            MatchedLine(**line)
            for line in (json.loads(row["lines"]) if row["lines"] != "[]" else ())
        ),
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
    as_of = log_position(tx)
    rows = [
        dict(zip(MATCH_RECEIPT.column_names, row, strict=True))
        for row in tx.fetch(
            "rm_" + MATCH_RECEIPT.name, MATCH_RECEIPT.column_names, "receipt_id", ids
        )
    ]
    return {row["receipt_id"]: receipt_match(row, as_of) for row in rows}


def notice(
    read_models: ReadModels, notice_id: UUID | str, *, min_position: int = 0
) -> ReceiptMatch | None:
    """A bank notice with its match status and matched lines, or None if unknown."""
    read_models.wait_for(min_position, [MODEL])
    with read_models.store.read() as tx:
        found = matches_of(tx, [str(notice_id)]).get(str(notice_id))
    return found if found is not None and found.kind == "bank_notice" else None
