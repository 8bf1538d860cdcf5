"""Typed queries the HTTP layer calls. Each takes `min_position`: the read waits (boundedly)
until the read models it uses have applied the log up to there, so a client that passes the
position its write returned always sees that write. Payment histories are in
projections/history.py (re-exported here: one module for the HTTP layer to call)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from projections.allocation import WITHDRAWN
from projections.history import payment, payment_history
from projections.read_models import ReadModels
from projections.reading import Reader, position_of, select_rows
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
    WALLET,
)
from storage.sql import Tx

__all__ = [
    "PaymentEntry",
    "PaymentPage",
    "account_balance",
    "accounts_of_payer",
    "cached_accounts_of_payer",
    "payment",
    "payment_history",
    "trial_balance",
    "wallet_balance",
    "wallets_of_payer",
]


# --- personal accounts -----------------------------------------------------------------------
def account_balance(
    read_models: Reader,
    account_id: UUID | str,
    *,
    min_position: int = 0,
    include_withdrawn: bool = True,
) -> AccountBalance | None:
    """An account's balance and bill states (newest period first), or None if unknown."""
    read_models.wait_for(min_position, ["account_balance"])
    with read_models.store.read() as tx:
        found = _accounts(tx, "account_id = %s", [str(account_id)], include_withdrawn)
    return found[0] if found else None


def accounts_of_payer(
    read_models: ReadModels, payer_id: str, *, min_position: int = 0, cached_only: bool = False
) -> list[AccountBalance] | None:
    """Every account the payer has linked, with balances. A resident's hot read: answered from
    the process's cache when it holds it (projections/hot.py); with `cached_only`, None
    instead of a wait or a query (the caller then asks again where blocking is fine)."""
    hit = cached_accounts_of_payer(read_models, payer_id, min_position)
    if hit is not None:
        cached, cached_as_of = hit
        return [replace(b, as_of=cached_as_of) for b in cached]
    if cached_only:
        return None
    name = ("accounts_of_payer", payer_id)
    read_models.wait_for(min_position, ["account_balance"])
    with read_models.store.read() as tx:
        linked = f"SELECT account_id FROM {tx.store.name('rm_account_payer')} WHERE payer_id = %s"
        found = _accounts(tx, f"account_id IN ({linked})", [payer_id], True)
        as_of = found[0].as_of if found else position_of(tx, "account_balance")
    for balance in found:
        read_models.links.add(payer_id, balance.account_id)
    deps = {f"payer_id={payer_id}", *(f"account_id={b.account_id}" for b in found)}
    read_models.cache.put(name, "account_balance", tuple(found), as_of, deps)
    return found


def cached_accounts_of_payer(
    read_models: ReadModels, payer_id: str, min_position: int = 0
) -> tuple[tuple[AccountBalance, ...], int] | None:
    """The cached answer itself (the same tuple until the cache drops it) and the position it
    holds as of, or None: lets the HTTP layer reuse a body rendered from it."""
    hit = read_models.cache.get(("accounts_of_payer", payer_id), min_position)
    return None if hit is None else (hit[0], hit[1])


def _accounts(
    tx: Tx, where: str, params: list[Any], include_withdrawn: bool
) -> list[AccountBalance]:
    as_of = position_of(tx, "account_balance")
    result = []
    for row in select_rows(tx, ACCOUNT, where, params, " ORDER BY account_id"):
        account_id = row["account_id"]
        payers = tx.execute(
            f"SELECT payer_id, proof FROM {tx.store.name('rm_account_payer')}"
            " WHERE account_id = %s ORDER BY payer_id",
            [account_id],
        )
        bills = select_rows(
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
    read_models: Reader, wallet_id: UUID | str, *, min_position: int = 0
) -> WalletBalance | None:
    read_models.wait_for(min_position, ["wallet_balance"])
    with read_models.store.read() as tx:
        rows = select_rows(tx, WALLET, "wallet_id = %s", [str(wallet_id)])
        as_of = position_of(tx, "wallet_balance")
    return WalletBalance(**rows[0], as_of=as_of) if rows else None


def wallets_of_payer(
    read_models: ReadModels, payer_id: str, *, min_position: int = 0
) -> list[WalletBalance]:
    read_models.wait_for(min_position, ["wallet_balance"])
    with read_models.store.read() as tx:
        rows = select_rows(tx, WALLET, "payer_id = %s", [payer_id], " ORDER BY position")
        as_of = position_of(tx, "wallet_balance")
    return [WalletBalance(**row, as_of=as_of) for row in rows]


# --- trial balance ---------------------------------------------------------------------------
def trial_balance(
    read_models: Reader, *, min_position: int = 0, as_of: int | None = None
) -> TrialBalance:
    """Every ledger account's balance; with `as_of`, as it was at that log position."""
    read_models.wait_for(max(min_position, as_of or 0), ["trial_balance"])
    with read_models.store.read() as tx:
        reached = position_of(tx, "trial_balance")
        if as_of is None:
            rows = select_rows(tx, LEDGER_ACCOUNT, "1 = 1", [], " ORDER BY account")
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
