"""Typed queries the HTTP layer calls. Each takes `min_position`: the read waits (boundedly)
until the read models it uses have applied the log up to there, so a client that passes the
position its write returned always sees that write."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from ledger.domain import PaymentStatus
from projections import cursor as cursors
from projections.allocation import WITHDRAWN
from projections.errors import InvalidQueryError
from projections.read_models import ReadModels
from projections.register import matches_of
from projections.results import (
    AccountBalance,
    BillState,
    LedgerAccountBalance,
    PaymentEntry,
    PaymentPage,
    TrialBalance,
    WalletBalance,
)
from projections.tables import (
    ACCOUNT,
    BILL,
    LEDGER_ACCOUNT,
    MATCH_RECEIPT,
    PAYMENT,
    WALLET,
    Table,
)
from projections.tracking import read_positions
from storage.decode import timestamp
from storage.sql import Store, Tx

MAX_PAGE = 200
STATUSES = frozenset(status.value for status in PaymentStatus)


class Reader(Protocol):
    """What a query of one read model needs: the store, and a wait for its position (a
    `ReadModels`, or as-of queries' scratch store, projections/as_of.py)."""

    store: Store

    def wait_for(
        self, position: int, names: Iterable[str] | None = None, timeout: float | None = None
    ) -> None: ...


def _select(
    tx: Tx, table: Table, where: str, params: Sequence[Any], tail: str = ""
) -> list[dict[str, Any]]:
    names = table.column_names
    statement = (
        f"SELECT {', '.join(names)} FROM {tx.store.name('rm_' + table.name)} WHERE {where}{tail}"
    )
    return [dict(zip(names, row, strict=True)) for row in tx.execute(statement, params)]


def _as_of(tx: Tx, name: str) -> int:
    return read_positions(tx, [name])[name]


# --- personal accounts -----------------------------------------------------------------------
def account_balance(
    rm: Reader, account_id: UUID | str, *, min_position: int = 0, include_withdrawn: bool = True
) -> AccountBalance | None:
    """An account's balance and bill states (newest period first), or None if unknown."""
    rm.wait_for(min_position, ["account_balance"])
    with rm.store.read() as tx:
        found = _accounts(tx, "account_id = %s", [str(account_id)], include_withdrawn)
    return found[0] if found else None


def accounts_of_payer(
    rm: ReadModels, payer_id: str, *, min_position: int = 0, cached_only: bool = False
) -> list[AccountBalance] | None:
    """Every account the payer has linked, with balances. A resident's hot read: answered from
    the process's cache when it holds it (projections/hot.py); with `cached_only`, None
    instead of a wait or a query (the caller then asks again where blocking is fine)."""
    hit = cached_accounts_of_payer(rm, payer_id, min_position)
    if hit is not None:
        cached, cached_as_of = hit
        return [replace(b, as_of=cached_as_of) for b in cached]
    if cached_only:
        return None
    name = ("accounts_of_payer", payer_id)
    rm.wait_for(min_position, ["account_balance"])
    with rm.store.read() as tx:
        linked = f"SELECT account_id FROM {tx.store.name('rm_account_payer')} WHERE payer_id = %s"
        found = _accounts(tx, f"account_id IN ({linked})", [payer_id], True)
        as_of = found[0].as_of if found else _as_of(tx, "account_balance")
    deps = {f"payer_id={payer_id}", *(f"account_id={b.account_id}" for b in found)}
    rm.cache.put(name, "account_balance", tuple(found), as_of, deps)
    return found


def cached_accounts_of_payer(
    rm: ReadModels, payer_id: str, min_position: int = 0
) -> tuple[tuple[AccountBalance, ...], int] | None:
    """The cached answer itself (the same tuple until the cache drops it) and the position it
    holds as of, or None: lets the HTTP layer reuse a body rendered from it."""
    hit = rm.cache.get(("accounts_of_payer", payer_id), min_position)
    return None if hit is None else (hit[0], hit[1])


def _accounts(
    tx: Tx, where: str, params: list[Any], include_withdrawn: bool
) -> list[AccountBalance]:
    as_of = _as_of(tx, "account_balance")
    result = []
    for row in _select(tx, ACCOUNT, where, params, " ORDER BY account_id"):
        account_id = row["account_id"]
        payers = tx.execute(
            f"SELECT payer_id, proof FROM {tx.store.name('rm_account_payer')}"
            " WHERE account_id = %s ORDER BY payer_id",
            [account_id],
        )
        bills = _select(
            tx, BILL, "account_id = %s", [account_id], " ORDER BY period DESC, added_position DESC"
        )
        states = tuple(
            BillState(
                bill_id=b["bill_id"],
                document_id=b["document_id"],
                period=b["period"],
                due_date=b["due_date"],
                amount_due=b["amount_due"],
                paid=b["applied"],
                status=b["status"],
                replaces=b["replaces"],
                replaced_by=b["replaced_by"],
                position=b["position"],
            )
            for b in bills
            if include_withdrawn or b["status"] != WITHDRAWN
        )
        result.append(
            AccountBalance(
                **{k: row[k] for k in ACCOUNT.column_names},
                payer_ids=tuple(p for (p, _) in payers),
                proven_payer_ids=tuple(p for (p, proof) in payers if proof is not None),
                bills=states,
                as_of=as_of,
            )
        )
    return result


# --- wallets ---------------------------------------------------------------------------------
def wallet_balance(
    rm: Reader, wallet_id: UUID | str, *, min_position: int = 0
) -> WalletBalance | None:
    rm.wait_for(min_position, ["wallet_balance"])
    with rm.store.read() as tx:
        rows = _select(tx, WALLET, "wallet_id = %s", [str(wallet_id)])
        as_of = _as_of(tx, "wallet_balance")
    return WalletBalance(**rows[0], as_of=as_of) if rows else None


def wallets_of_payer(
    rm: ReadModels, payer_id: str, *, min_position: int = 0
) -> list[WalletBalance]:
    rm.wait_for(min_position, ["wallet_balance"])
    with rm.store.read() as tx:
        rows = _select(tx, WALLET, "payer_id = %s", [payer_id], " ORDER BY position")
        as_of = _as_of(tx, "wallet_balance")
    return [WalletBalance(**row, as_of=as_of) for row in rows]


# --- payments --------------------------------------------------------------------------------
def payment(
    rm: ReadModels, payment_id: UUID | str, *, min_position: int = 0
) -> PaymentEntry | None:
    rm.wait_for(min_position, HISTORY_MODELS)
    with rm.store.read() as tx:
        rows = _select(tx, PAYMENT, "payment_id = %s", [str(payment_id)])
        matches = matches_of(tx, [str(payment_id)]) if rows else {}
    return _with_match(_entry(rows[0]), matches) if rows else None


def payment_history(
    rm: ReadModels,
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
    hit = rm.cache.get(name, min_position) if name else None
    if hit is not None:
        cached: PaymentPage = hit[0]
        return replace(cached, as_of=hit[1])
    if cached_only:
        return None
    rm.wait_for(min_position, HISTORY_MODELS)
    # Notices have no payer: they are in account and supplier histories only.
    page = _read_history(rm, where, params, limit, filters, with_notices=not payer_id)
    if name:
        rm.cache.put(name, "payment_history", page, page.as_of, {f"payer_id={payer_id}"})
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
    rm: ReadModels,
    where: list[str],
    params: list[str | int],
    limit: int,
    filters: dict[str, Any],
    *,
    with_notices: bool,
) -> PaymentPage:
    """One page (and whether more follow) from the payments, and from the notices if asked."""
    with rm.store.read() as tx:
        tail = f" ORDER BY created_position DESC LIMIT {limit + 1}"
        rows = _select(tx, PAYMENT, " AND ".join(where), params, tail)
        if with_notices:
            found = _select(
                tx, MATCH_RECEIPT, " AND ".join(["kind = 'bank_notice'", *where]), params, tail
            )
            rows = sorted(
                [*rows, *(_notice_row(n) for n in found)],
                key=lambda r: r["created_position"],
                reverse=True,
            )[: limit + 1]
        matches = matches_of(tx, (r["payment_id"] for r in rows[:limit]))
        as_of = min(_as_of(tx, name) for name in HISTORY_MODELS)
    items = tuple(_with_match(_entry(row), matches) for row in rows[:limit])
    more = len(rows) > limit
    next_cursor = cursors.encode(items[-1].created_position, filters) if more else None
    return PaymentPage(items=items, next_cursor=next_cursor, as_of=as_of)


HISTORY_MODELS = ("payment_history", "matching")


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


# --- trial balance ---------------------------------------------------------------------------
def trial_balance(
    rm: ReadModels, *, min_position: int = 0, as_of: int | None = None
) -> TrialBalance:
    """Every ledger account's balance; with `as_of`, as it was at that log position."""
    rm.wait_for(max(min_position, as_of or 0), ["trial_balance"])
    with rm.store.read() as tx:
        reached = _as_of(tx, "trial_balance")
        if as_of is None:
            rows = _select(tx, LEDGER_ACCOUNT, "1 = 1", [], " ORDER BY account")
            accounts = tuple(
                LedgerAccountBalance(r["account"], r["debits"], r["credits"], r["balance"])
                for r in rows
            )
        else:
            accounts = tuple(
                LedgerAccountBalance(name, debits, credits, debits - credits)
                for name, debits, credits in tx.execute(
                    "SELECT account,"
                    " CAST(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS BIGINT),"
                    " CAST(SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS BIGINT)"
                    f" FROM {tx.store.name('rm_posting')} WHERE position <= %s"
                    " GROUP BY account ORDER BY account",
                    [as_of],
                )
            )
    totals: dict[str, int] = {}
    for account in accounts:
        kind = account.account.split(":", 1)[0]
        totals[kind] = totals.get(kind, 0) + account.balance
    return TrialBalance(
        accounts=accounts,
        total=sum(a.balance for a in accounts),
        as_of=reached if as_of is None else min(as_of, reached),
        totals=totals,
    )
