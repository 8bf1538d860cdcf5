"""Setting up payable accounts and funded wallets through the Ledger's public API (untimed)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ledger.application import Ledger
from ledger.payments.commands import OpenWallet, RequestTopUp, SettleTopUp
from ledger.registry.commands import OpenAccount, RegisterSupplier

SUPPLIER_INN = "7701234560"
REQUISITES = {
    "bik": "044525225",
    "settlement_account": "40702810138250123017",
    "correspondent_account": "30101810400000000225",
    "bank_name": "ПАО СБЕРБАНК",
}


@dataclass(frozen=True)
class Wallet:
    wallet_id: UUID
    payer_id: str


def register_supplier(ledger: Ledger) -> UUID:
    supplier = ledger.execute(
        RegisterSupplier.parse(
            inn=SUPPLIER_INN,
            kpp="770101001",
            name='ООО "УК Бенч"',
            requisites=REQUISITES,
            idempotency_key="bench-supplier",
        )
    )
    return UUID(supplier.result["supplier_id"])


def open_accounts(ledger: Ledger, supplier_id: UUID, count: int, *, label: str) -> list[UUID]:
    """`count` fresh personal accounts: the pool every thread pays into."""
    accounts = []
    for n in range(count):
        opened = ledger.execute(
            OpenAccount.parse(
                supplier_id=supplier_id,
                account_number=f"{label}-{n}",
                address=f"г. Москва, ул. Бенчмарк, д. 1, кв. {n + 1}",
                idempotency_key=f"{label}-account-{n}",
            )
        )
        accounts.append(UUID(opened.result["account_id"]))
    return accounts


def fund_wallets(ledger: Ledger, payers: list[str], balance: int) -> list[Wallet]:
    """A wallet per payer, topped up to `balance` kopecks."""
    wallets = []
    for payer_id in payers:
        opened = ledger.execute(OpenWallet(payer_id=payer_id, idempotency_key="wallet"))
        wallet_id = UUID(opened.result["wallet_id"])
        requested = ledger.execute(
            RequestTopUp(
                wallet_id=wallet_id, payer_id=payer_id, amount=balance, idempotency_key="top-up"
            )
        )
        ledger.execute(
            SettleTopUp(
                top_up_id=UUID(requested.result["top_up_id"]),
                succeeded=True,
                amount=balance,
                acquirer_ref=f"bench-{payer_id}",
            )
        )
        wallets.append(Wallet(wallet_id, payer_id))
    return wallets
