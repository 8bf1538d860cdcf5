"""Payment histories: a payer's, an account's or a supplier's payments (and an account's bank
notices), newest first, in pages, with their match (projections/receipts.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.domain import PaymentStatus
from projections import cursor as cursors
from projections.errors import InvalidQueryError
from projections.read_models import ReadModels
from projections.reading import position_of, select_rows
from projections.receipts import matches_of
from projections.results import PaymentEntry, PaymentPage
from projections.tables import MATCH_RECEIPT, PAYMENT
from storage.decode import timestamp

MAX_PAGE = 200
STATUSES = frozenset(status.value for status in PaymentStatus)
HISTORY_MODELS = ("payment_history", "matching")


# --- payments --------------------------------------------------------------------------------
def payment(
    read_models: ReadModels, payment_id: UUID | str, *, min_position: int = 0
) -> PaymentEntry | None:
    read_models.wait_for(min_position, HISTORY_MODELS)
    with read_models.store.read() as tx:
        rows = select_rows(tx, PAYMENT, "payment_id = %s", [str(payment_id)])
        matches = matches_of(tx, [str(payment_id)]) if rows else {}
    return _with_match(_entry(rows[0]), matches) if rows else None


def payment_history(
    read_models: ReadModels,
    *,
    payer_id: str | None = None,
    account_id: UUID | str | None = None,
    supplier_id: UUID | str | None = None,
    statuses: Sequence[str] = (),
    period: str | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
    min_position: int = 0,
    cached_only: bool = False,
) -> PaymentPage | None:
    """Payments of one payer, account or supplier (give exactly one), newest first.

    Filters: `statuses` (any of), `period` (the paid bill's YYYY-MM), and a creation-time range
    [created_from, created_before). Pages hold at most `limit` (≤ 200) items; pass the returned
    `next_cursor` to get the next, older, page. A payer's pages are cached (`cached_only`: as in
    `accounts_of_payer`)."""
    scope, value = _history_scope(payer_id=payer_id, account_id=account_id, supplier_id=supplier_id)
    _check_history_filters(statuses, limit, created_from, created_before)
    filters = {
        scope: value,
        "statuses": sorted(statuses),
        "period": period,
        "from": created_from and timestamp(created_from),
        "before": created_before and timestamp(created_before),
    }
    where, params = _history_where(filters, scope, value, cursor)
    # A payer's pages are hot reads, answered from the cache when it holds them.
    name = None
    if payer_id:
        name = ("payment_history", json.dumps(filters, default=str), limit, cursor)
    hit = read_models.cache.get(name, min_position) if name else None
    if hit is not None:
        cached: PaymentPage = hit[0]
        return replace(cached, as_of=hit[1])
    if cached_only:
        return None
    read_models.wait_for(min_position, HISTORY_MODELS)
    # Notices have no payer: they are in account and supplier histories only.
    page = _read_history(read_models, where, params, limit, filters, with_notices=not payer_id)
    if name:
        read_models.cache.put(name, "payment_history", page, page.as_of, {f"payer_id={payer_id}"})
    return page


def _history_scope(**scopes: UUID | str | None) -> tuple[str, str]:
    given = {k: str(v) for k, v in scopes.items() if v is not None}
    if len(given) != 1:
        raise InvalidQueryError(
            "give exactly one of payer_id, account_id, supplier_id", scopes=list(given)
        )
    ((scope, value),) = given.items()
    return scope, value


def _check_history_filters(
    statuses: Sequence[str],
    limit: int,
    created_from: datetime | None,
    created_before: datetime | None,
) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidQueryError(f"limit must be 1–{MAX_PAGE}", limit=limit)
    unknown = set(statuses) - STATUSES
    if unknown:
        raise InvalidQueryError(f"unknown status {sorted(unknown)}", statuses=sorted(STATUSES))
    for moment in (created_from, created_before):
        if moment is not None and moment.tzinfo is None:
            raise InvalidQueryError("created_from / created_before need a time zone")


def _history_where(
    filters: dict[str, Any], scope: str, value: str, cursor: str | None
) -> tuple[list[str], list[str | int]]:
    """The WHERE clauses (ANDed) and their parameters; a cursor only for its own filters."""
    where, params = [f"{scope} = %s"], list[str | int]([value])
    if filters["statuses"]:
        where.append(f"status IN ({', '.join('%s' for _ in filters['statuses'])})")
        params += filters["statuses"]
    if filters["period"] is not None:
        where.append("period = %s")
        params.append(filters["period"])
    if filters["from"] is not None:
        where.append("created_at >= %s")
        params.append(filters["from"])
    if filters["before"] is not None:
        where.append("created_at < %s")
        params.append(filters["before"])
    if cursor is not None:
        where.append("created_position < %s")
        params.append(cursors.decode(cursor, filters))
    return where, params


def _read_history(
    read_models: ReadModels,
    where: list[str],
    params: list[str | int],
    limit: int,
    filters: dict[str, Any],
    *,
    with_notices: bool,
) -> PaymentPage:
    """One page (and whether more follow) from the payments, and from the notices if asked."""
    with read_models.store.read() as tx:
        tail = f" ORDER BY created_position DESC LIMIT {limit + 1}"
        rows = select_rows(tx, PAYMENT, " AND ".join(where), params, tail)
        if with_notices:
            found = select_rows(
                tx, MATCH_RECEIPT, " AND ".join(["kind = 'bank_notice'", *where]), params, tail
            )
            rows = sorted(
                [*rows, *(_notice_row(n) for n in found)],
                key=lambda r: r["created_position"],
                reverse=True,
            )[: limit + 1]
        matches = matches_of(tx, (r["payment_id"] for r in rows[:limit]))
        as_of = min(position_of(tx, name) for name in HISTORY_MODELS)
    items = tuple(_with_match(_entry(row), matches) for row in rows[:limit])
    more = len(rows) > limit
    next_cursor = cursors.encode(items[-1].created_position, filters) if more else None
    return PaymentPage(items=items, next_cursor=next_cursor, as_of=as_of)


def _notice_row(row: dict[str, Any]) -> dict[str, Any]:
    """A notice as a history row (the matching model keeps notices; see _with_match)."""
    return {
        "payment_id": row["receipt_id"],
        "payer_id": None,
        "account_id": row["account_id"],
        "supplier_id": row["supplier_id"],
        "account_number": row["account_number"] or "",
        "bill_id": row["bill_id"],
        "document_id": row["document_id"],
        "period": row["period"],
        "amount": row["amount"],
        "refunded": row["reversed"],
        "method": row["method"],
        "wallet_id": None,
        "recipient": "{}",
        "status": row["status"],
        "failure_reason": None,
        "acquirer_ref": None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "created_position": row["created_position"],
        "position": row["position"],
    }


def _with_match(entry: PaymentEntry, matches: dict[str, Any]) -> PaymentEntry:
    found = matches.get(entry.payment_id)
    if found is None:
        return entry
    return replace(
        entry,
        kind=found.kind,
        match_status=found.match_status,
        matched=found.matched,
        advance=found.advance,
        order_id=found.order_id,
        bank_bik=found.bank_bik,
        order_date=found.order_date,
        commission=found.commission,
    )


def _entry(row: dict[str, Any]) -> PaymentEntry:
    return PaymentEntry(
        **{
            **row,
            "recipient": json.loads(row["recipient"]),
            "created_at": _parse_time(row["created_at"]),
            "updated_at": _parse_time(row["updated_at"]),
        }
    )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
