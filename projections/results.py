"""What queries return: plain, typed, immutable values (amounts in kopecks, ids as strings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class BillState:
    bill_id: str
    document_id: str | None
    period: str | None
    due_date: str | None
    amount_due: int
    paid: int
    """What the account's payments cover of this bill (see projections/allocation.py)."""
    status: str
    """paid | partially_paid | unpaid | withdrawn"""
    replaces: str | None
    replaced_by: str | None
    position: int


@dataclass(frozen=True)
class AccountBalance:
    account_id: str
    supplier_id: str
    supplier_inn: str
    account_number: str
    els: str | None
    address: str
    accrued: int
    paid: int
    refunded: int
    due: int
    advance: int
    payer_ids: tuple[str, ...]
    bills: tuple[BillState, ...]
    position: int
    """The event that last changed this account."""
    as_of: int
    """The position the read model had reached when this was read."""
    proven_payer_ids: tuple[str, ...] = ()
    """Linked payers who proved possession: only they see the personal data."""


@dataclass(frozen=True)
class WalletBalance:
    wallet_id: str
    payer_id: str
    balance: int
    credited: int
    debited: int
    position: int
    as_of: int


@dataclass(frozen=True)
class PaymentEntry:
    payment_id: str
    payer_id: str | None
    account_id: str
    supplier_id: str
    account_number: str
    bill_id: str | None
    document_id: str | None
    period: str | None
    amount: int
    refunded: int
    method: str
    wallet_id: str | None
    recipient: dict[str, Any]
    status: str
    failure_reason: str | None
    acquirer_ref: str | None
    created_at: datetime
    updated_at: datetime
    created_position: int
    position: int
    kind: str = "payment"
    """payment | bank_notice (a notice's `payer_id` is None and `method` is `bank_notice`)."""
    match_status: str | None = None
    """See projections/matching.py; None if the matching model has not seen it."""
    matched: int = 0
    advance: int = 0
    order_id: str | None = None
    bank_bik: str | None = None
    order_date: str | None = None
    commission: int = 0


@dataclass(frozen=True)
class PaymentPage:
    items: tuple[PaymentEntry, ...]
    next_cursor: str | None
    """Pass it back as `cursor` for the next (older) page; None on the last page."""
    as_of: int


@dataclass(frozen=True)
class LedgerAccountBalance:
    account: str
    debits: int
    credits: int
    balance: int
    """Debit-positive: wallets and payables (liabilities) are negative."""


@dataclass(frozen=True)
class TrialBalance:
    accounts: tuple[LedgerAccountBalance, ...]
    total: int
    """Sum of all balances: zero in a balanced ledger."""
    as_of: int
    totals: dict[str, int] = field(default_factory=dict)
    """Balance per kind of ledger account (wallet, acquirer, payable)."""
