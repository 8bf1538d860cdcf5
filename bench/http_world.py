"""Residents for the HTTP bench, set up in process through the Ledger (untimed): each has a
linked personal account with a bill, a funded wallet and a short payment history."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from api.auth import Role, issue_token
from bench.ledger_history import els
from bench.world import SUPPLIER_INN, fund_wallets, open_accounts, register_supplier
from ledger.application import Ledger
from ledger.payments.commands import CreatePayment
from ledger.registry.commands import IssueBill, LinkPayer

WALLET_BALANCE = 10**12  # kopecks: no payment in the bench runs out of money
HISTORY = 3  # payments per resident before the load


@dataclass(frozen=True)
class Resident:
    payer_id: str
    token: str
    wallet_id: UUID
    account_id: UUID


def seed(ledger: Ledger, secret: str, count: int) -> list[Resident]:
    supplier_id = register_supplier(ledger)
    accounts = open_accounts(ledger, supplier_id, count, label="http")
    payers = [f"http-payer-{n}" for n in range(count)]
    wallets = fund_wallets(ledger, payers, WALLET_BALANCE)
    residents = []
    for n, (account_id, wallet) in enumerate(zip(accounts, wallets, strict=True)):
        ledger.execute(
            IssueBill.parse(
                account_id=account_id,
                document_id=f"{els(1, n)}-01-0126",
                period="2026-01",
                lines=[{"service": "Отопление", "amount": 3_500_00}],
                due_date="2026-02-15",
                idempotency_key=f"http-bill-{n}",
            )
        )
        ledger.execute(
            LinkPayer.parse(  # proven by the bill's ИПД: the residents read their accounts in full
                payer_id=wallet.payer_id,
                supplier_inn=SUPPLIER_INN,
                account_number=f"http-{n}",
                document_id=f"{els(1, n)}-01-0126",
            )
        )
        for p in range(HISTORY):
            ledger.execute(
                CreatePayment.parse(
                    payer_id=wallet.payer_id,
                    account_id=account_id,
                    amount=1_000_00,
                    method="wallet",
                    wallet_id=wallet.wallet_id,
                    confirm=True,
                    idempotency_key=f"http-history-{n}-{p}",
                )
            )
        token = issue_token(secret, Role.RESIDENT, wallet.payer_id, 24 * 3600)
        residents.append(Resident(wallet.payer_id, token, wallet.wallet_id, account_id))
    return residents


def write_residents(residents: list[Resident], path: Path) -> Path:
    """The wrk scripts' input: one `token wallet_id account_id` line per resident."""
    path.write_text(
        "".join(f"{r.token} {r.wallet_id} {r.account_id}\n" for r in residents), encoding="utf-8"
    )
    return path


def wallet_total(ledger: Ledger, residents: list[Resident]) -> int:
    """The write side's truth: the sum of the residents' wallet balances."""
    return sum(ledger.get_wallet(r.wallet_id).balance for r in residents)
