"""`kvit demo`: fill the configured database with a small, realistic history.

Suppliers with valid ИНН and requisites, personal accounts with payers, monthly bills, wallets
topped up by card, payments by wallet and by card (a few failed, a few refunded), one bill
replaced. Everything goes through the Ledger's commands, so every event is a real one. Then
the read models and the audit chain are brought up to date and a checkpoint is signed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from ledger.application import Ledger
from ledger.domain import PersonalAccount
from ledger.errors import LedgerError
from ledger.payments.commands import (
    CreatePayment,
    OpenWallet,
    RefundPayment,
    RequestTopUp,
    SettleCardPayment,
    SettleTopUp,
)
from ledger.registry.commands import ConfirmPayer, IssueBill, OpenAccount, RegisterSupplier
from storage.log import head as log_head

INN_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
REQUISITES = {
    "bik": "044525225",
    "settlement_account": "40702810138250123017",
    "correspondent_account": "30101810400000000225",
    "bank_name": "ПАО СБЕРБАНК",
}
LETTERS = "АБВГДЕЖИКЛМН"


def legal_inn(n: int) -> str:
    head = f"77{n:07d}"
    check = sum(w * int(d) for w, d in zip(INN_WEIGHTS, head, strict=True)) % 11 % 10
    return f"{head}{check}"


def month_of(today: date, back: int) -> tuple[str, str]:
    """The billing period `back` months before today's, and its bill's due date (the 15th of
    the month after it)."""
    index = today.year * 12 + today.month - 1 - back
    period = f"{index // 12}-{index % 12 + 1:02d}"
    due = f"{(index + 1) // 12}-{(index + 1) % 12 + 1:02d}-15"
    return period, due


@dataclass
class DemoAccount:
    account_id: UUID
    payer_id: str
    wallet_id: UUID
    els: str


@dataclass(frozen=True)
class DemoSummary:
    suppliers: int
    accounts: int
    payments: int
    events: int


def fill(
    ledger: Ledger,
    *,
    suppliers: int = 2,
    accounts: int = 5,
    months: int = 3,
    seed: int = 7,
    today: date | None = None,
) -> DemoSummary:
    """Suppliers with their accounts and payers, then for each of the `months` before this one
    a bill on every account and, mostly, its payment (made now, so the bills are recent ones).
    The same seed gives the same history."""
    rng = random.Random(seed)
    today = today or date.today()
    made = [account for s in range(suppliers) for account in _open_supplier(ledger, s, accounts)]
    payments = 0
    for month in range(1, months + 1):
        dated = month_of(today, months + 1 - month)
        for index, account in enumerate(made):
            payments += _bill_and_pay(ledger, rng, account, month, dated, key=f"{month}-{index}")
    return DemoSummary(suppliers, suppliers * accounts, payments, log_head(ledger))


def _open_supplier(ledger: Ledger, s: int, accounts: int) -> list[DemoAccount]:
    """Supplier number `s`, its personal accounts, and a confirmed payer with a wallet each."""
    supplier = ledger.execute(
        RegisterSupplier.parse(
            inn=legal_inn(1000 + s),
            kpp="770101001",
            name=f'ООО "УК Демо-{s + 1}"',
            requisites=REQUISITES,
            idempotency_key=f"demo-supplier-{s}",
        )
    )
    supplier_id = UUID(supplier.result["supplier_id"])
    made = []
    for a in range(accounts):
        els = f"{70 + s:02d}{LETTERS[s % 12]}{LETTERS[a % 12]}{a:06d}"
        opened = ledger.execute(
            OpenAccount.parse(
                supplier_id=supplier_id,
                account_number=f"{s + 1:02d}{a:08d}",
                address=f"г. Москва, ул. Демонстрационная, д. {s + 1}, кв. {a + 1}",
                els=els,
                idempotency_key=f"demo-account-{s}-{a}",
            )
        )
        account_id = UUID(opened.result["account_id"])
        payer = f"resident-{s + 1}-{a + 1}"
        # An operator's confirmation: the demo's residents see their accounts in full.
        ledger.execute(
            ConfirmPayer.parse(
                account_id=account_id, payer_id=payer, idempotency_key=f"demo-confirm-{s}-{a}"
            )
        )
        wallet = ledger.execute(OpenWallet(payer_id=payer, idempotency_key="demo-wallet"))
        made.append(DemoAccount(account_id, payer, UUID(wallet.result["wallet_id"]), els))
    return made


def _bill_and_pay(
    ledger: Ledger,
    rng: random.Random,
    account: DemoAccount,
    month: int,
    dated: tuple[str, str],
    key: str,
) -> int:
    """The `month`th bill (its period and due date `dated`), paid from a topped-up wallet (60%)
    or by card; a card payment fails now and then (10%), and a few payments are partly
    refunded. 1 if a payment was made."""
    heating, water = rng.randint(2000_00, 6000_00), rng.randint(300_00, 900_00)
    document = f"{account.els}-01-{month:04d}"
    period, due = dated
    ledger.execute(
        IssueBill.parse(
            account_id=account.account_id,
            document_id=document,
            period=period,
            lines=[
                {"service": "Отопление", "amount": heating},
                {"service": "Холодное водоснабжение", "amount": water},
            ],
            due_date=due,
            idempotency_key=f"demo-bill-{key}",
        )
    )
    wallet_id: UUID | None = None
    if rng.random() < 0.6:
        _top_up(ledger, account, heating + water, key)
        wallet_id = account.wallet_id
    method = "card" if wallet_id is None else "wallet"
    try:
        paid = ledger.execute(
            CreatePayment.parse(
                payer_id=account.payer_id,
                method=method,
                idempotency_key=f"demo-pay-{key}",
                account_id=account.account_id,
                document_id=document,
                wallet_id=wallet_id,
                confirm=True,
            )
        )
    except LedgerError:
        return 0
    payment_id, total = UUID(paid.result["id"]), paid.result["amount"]
    if method == "card":
        ok = rng.random() < 0.9
        ledger.execute(
            SettleCardPayment(
                payment_id=payment_id, succeeded=ok, amount=total, acquirer_ref=f"demo-acq-{key}"
            )
        )
        if not ok:
            return 1
    if rng.random() < 0.1:
        ledger.execute(
            RefundPayment(
                payment_id=payment_id, amount=total // 10, idempotency_key=f"demo-refund-{key}"
            )
        )
    return 1


def _top_up(ledger: Ledger, account: DemoAccount, amount: int, key: str) -> None:
    requested = ledger.execute(
        RequestTopUp(
            wallet_id=account.wallet_id,
            payer_id=account.payer_id,
            amount=amount,
            idempotency_key=f"demo-top-up-{key}",
        )
    )
    ledger.execute(
        SettleTopUp(
            top_up_id=UUID(requested.result["top_up_id"]),
            succeeded=True,
            amount=amount,
            acquirer_ref=f"demo-card-{key}",
        )
    )


@dataclass(frozen=True)
class CabinetDemo:
    """What the resident's cabinet demo adds, and what `kvit demo` tells the user to try."""

    open_bills: int
    funded_wallets: int
    unlinked: list[tuple[str, str]]  # (supplier ИНН, account number) nobody has linked yet


def fill_cabinet(
    ledger: Ledger,
    *,
    suppliers: int = 2,
    accounts: int = 5,
    months: int = 3,
    today: date | None = None,
) -> CabinetDemo:
    """On top of `fill`: this month's bill left unpaid on every account, money in the wallets of
    the first supplier's residents (the second supplier's stay empty, so paying from them shows
    «insufficient funds»), and one account per supplier that nobody has linked, to try linking."""
    month = months + 1
    period, due = month_of(today or date.today(), 0)
    rng = random.Random(month)
    open_bills = funded = 0
    unlinked = []
    for s in range(suppliers):
        inn = legal_inn(1000 + s)
        supplier_id = ledger.find_supplier_by_inn(inn).id
        for a in range(accounts + 1):
            number = f"{s + 1:02d}{a:08d}"
            els = f"{70 + s:02d}{LETTERS[s % 12]}{LETTERS[a % 12]}{a:06d}"
            if a == accounts:  # the extra, unlinked account
                ledger.execute(
                    OpenAccount.parse(
                        supplier_id=supplier_id,
                        account_number=number,
                        address=f"г. Москва, ул. Демонстрационная, д. {s + 1}, кв. {a + 1}",
                        els=els,
                        idempotency_key=f"demo-account-{s}-{a}",
                    )
                )
                unlinked.append((inn, number))
            account_id = PersonalAccount.id_for(inn, number)
            ledger.execute(
                IssueBill.parse(
                    account_id=account_id,
                    document_id=f"{els}-01-{month:04d}",
                    period=period,
                    lines=[
                        {"service": "Отопление", "amount": rng.randint(2000_00, 6000_00)},
                        {
                            "service": "Холодное водоснабжение",
                            "amount": rng.randint(300_00, 900_00),
                        },
                        {
                            "service": "Содержание жилого помещения",
                            "amount": rng.randint(800_00, 1500_00),
                        },
                    ],
                    due_date=due,
                    idempotency_key=f"demo-bill-cabinet-{s}-{a}",
                )
            )
            open_bills += 1
            if s == 0 and a < accounts:
                payer = f"resident-{s + 1}-{a + 1}"
                wallet = ledger.execute(OpenWallet(payer_id=payer, idempotency_key="demo-wallet"))
                account = DemoAccount(account_id, payer, UUID(wallet.result["wallet_id"]), els)
                _top_up(ledger, account, 20_000_00, f"cabinet-{s}-{a}")
                funded += 1
    return CabinetDemo(open_bills, funded, unlinked)
