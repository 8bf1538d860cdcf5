"""The audited log: its event feed, chain entries, payment receipts, ledger-account balances."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.schemas.payments import PaymentDetail


class EventPage(BaseModel):
    events: list[dict[str, Any]]
    next_after: int
    """Pass as `after` for the next page."""
    done: bool
    """True when the page reached the end of the log."""


class ChainEntry(BaseModel):
    position: int
    version: int
    topic: str
    timestamp: str
    event_hash: str
    seq: int | None
    chain_hash: str | None
    matches_chain: bool


class Receipt(BaseModel):
    """Where the payment sits in the audited history."""

    position: int
    """Of the payment's newest event."""
    chain_hash: str | None
    status: str
    """pending (not chained yet) | chained | sealed (a signed checkpoint covers it)"""
    events: list[ChainEntry]
    checkpoint: dict[str, Any] | None
    """The first signed checkpoint at or after `position`."""
    tlog: dict[str, Any] | None = None
    """The payment's events as transparency-log entries with inclusion proofs and the signed
    checkpoint (a C2SP note) they are under: check offline with docs/verify_receipt.py."""


class PaymentWithReceipt(PaymentDetail):
    receipt: Receipt | None = None


class LedgerAccountOut(BaseModel):
    account: str
    debits: int
    credits: int
    balance: int
    """Debit-positive: wallets and payables are negative."""
    as_of: int
