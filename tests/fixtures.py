"""Valid example data from shared/docs/domain.md, and a helper that sets up a payable account."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ledger.application import Ledger
from ledger.payments.commands import CreatePayment, OpenWallet, RequestTopUp, SettleTopUp
from ledger.registry.commands import IssueBill, LinkPayer, OpenAccount, RegisterSupplier

INN = "7701234560"
OTHER_INN = "7707083893"
KPP = "770101001"
REQUISITES = {
    "bik": "044525225",
    "settlement_account": "40702810138250123017",
    "correspondent_account": "30101810400000000225",
    "bank_name": "ПАО СБЕРБАНК",
}
ACCOUNT_NUMBER = "0667000001"
DOCUMENT_ID = "70АА000560-01-6103"
LINES = [
    {"service": "Холодное водоснабжение", "amount": 23417},
    {"service": "Отопление", "amount": 500000},
]
BILL_TOTAL = 523417


@dataclass
class World:
    supplier_id: UUID
    account_id: UUID
    bill_id: UUID
    wallet_id: UUID
    payer_id: str


def setup_world(ledger: Ledger, *, payer_id: str = "payer-1", wallet_balance: int = 0) -> World:
    supplier = ledger.execute(
        RegisterSupplier.parse(
            inn=INN, kpp=KPP, name='ООО "УК Пример"', requisites=REQUISITES, idempotency_key="sup"
        )
    )
    supplier_id = UUID(supplier.result["supplier_id"])
    account = ledger.execute(
        OpenAccount.parse(
            supplier_id=supplier_id,
            account_number=ACCOUNT_NUMBER,
            address="г. Москва, ул. Примерная, д. 1, кв. 1",
            els="70АА000560",
            idempotency_key="acc",
        )
    )
    account_id = UUID(account.result["account_id"])
    bill = ledger.execute(
        IssueBill.parse(
            account_id=account_id,
            document_id=DOCUMENT_ID,
            period="2026-03",
            lines=LINES,
            due_date="2026-04-15",
            idempotency_key="bill",
        )
    )
    ledger.execute(
        LinkPayer.parse(payer_id=payer_id, supplier_inn=INN, account_number=ACCOUNT_NUMBER)
    )
    wallet = ledger.execute(OpenWallet(payer_id=payer_id, idempotency_key="wallet"))
    wallet_id = UUID(wallet.result["wallet_id"])
    if wallet_balance:
        top_up(ledger, wallet_id, payer_id, wallet_balance, key="initial")
    return World(supplier_id, account_id, UUID(bill.result["bill_id"]), wallet_id, payer_id)


def top_up(ledger: Ledger, wallet_id: UUID, payer_id: str, amount: int, *, key: str) -> None:
    requested = ledger.execute(
        RequestTopUp(wallet_id=wallet_id, payer_id=payer_id, amount=amount, idempotency_key=key)
    )
    ledger.execute(
        SettleTopUp(
            top_up_id=UUID(requested.result["top_up_id"]),
            succeeded=True,
            amount=amount,
            acquirer_ref=f"acq-{key}",
        )
    )


def wallet_payment(world: World, key: str, **overrides: object) -> CreatePayment:
    """A wallet payment on the world's account, confirmed at once; `overrides` change any field."""
    request: dict[str, object] = dict(
        payer_id=world.payer_id,
        account_id=world.account_id,
        method="wallet",
        wallet_id=world.wallet_id,
        confirm=True,
        idempotency_key=key,
    )
    request.update(overrides)
    return CreatePayment.parse(**request)  # type: ignore[arg-type]


def pay_from_wallet(
    ledger: Ledger, world: World, key: str, **overrides: object
) -> dict[str, object]:
    """`wallet_payment`, made."""
    return ledger.execute(wallet_payment(world, key, **overrides)).result
