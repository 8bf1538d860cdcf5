"""The registry's rules and named errors, in memory: suppliers, accounts, links, bills."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.errors import (
    AccountAlreadyOpenError,
    BillAlreadyIssuedError,
    BillStateConflictError,
    InvalidAccountKeyError,
    InvalidBillError,
    InvalidIdentifierError,
    SupplierAlreadyRegisteredError,
    UnknownAccountError,
    UnknownSupplierError,
)
from ledger.registry.commands import (
    ChangeSupplierRequisites,
    IssueBill,
    LinkPayer,
    OpenAccount,
    RegisterSupplier,
    WithdrawBill,
)
from tests.fixtures import (
    ACCOUNT_NUMBER,
    DOCUMENT_ID,
    INN,
    KPP,
    REQUISITES,
    World,
    setup_world,
)
from tests.fixtures import (
    pay_from_wallet as pay,
)


@pytest.fixture
def world(memory_ledger: Ledger) -> World:
    return setup_world(memory_ledger, wallet_balance=1_000_000)


def test_supplier_is_unique_per_inn(memory_ledger: Ledger, world: World) -> None:
    with pytest.raises(SupplierAlreadyRegisteredError) as caught:
        memory_ledger.execute(
            RegisterSupplier.parse(
                inn=INN, kpp=KPP, name="Другая УК", requisites=REQUISITES, idempotency_key="other"
            )
        )
    assert caught.value.data["supplier_id"] == str(world.supplier_id)


def test_supplier_with_bad_requisites_is_rejected(memory_ledger: Ledger) -> None:
    bad = {**REQUISITES, "settlement_account": "40702810138250123018"}
    with pytest.raises(InvalidAccountKeyError):
        memory_ledger.execute(
            RegisterSupplier.parse(inn=INN, kpp=KPP, name="УК", requisites=bad, idempotency_key="k")
        )


def test_requisites_history_is_kept_and_payments_fix_them_at_creation(
    memory_ledger: Ledger, world: World
) -> None:
    before = pay(memory_ledger, world, "before", amount=100)
    new = {**REQUISITES, "settlement_account": "03100643000000013400", "bank_name": "УФК"}
    memory_ledger.execute(
        ChangeSupplierRequisites.parse(
            supplier_id=world.supplier_id, requisites=new, idempotency_key="change"
        )
    )
    after = pay(memory_ledger, world, "after", amount=100)

    supplier = memory_ledger.get_supplier(world.supplier_id)
    assert [r["settlement_account"] for _, r in supplier.requisites_history] == [
        "40702810138250123017",
        "03100643000000013400",
    ]
    assert before["recipient"]["settlement_account"] == "40702810138250123017"  # type: ignore[index]
    assert after["recipient"]["settlement_account"] == "03100643000000013400"  # type: ignore[index]


def test_unknown_supplier_and_duplicate_account(memory_ledger: Ledger, world: World) -> None:
    with pytest.raises(UnknownSupplierError):
        memory_ledger.execute(
            OpenAccount.parse(
                supplier_id=uuid4(), account_number="1", address="x", idempotency_key="a"
            )
        )
    with pytest.raises(AccountAlreadyOpenError):
        memory_ledger.execute(
            OpenAccount.parse(
                supplier_id=world.supplier_id,
                account_number=ACCOUNT_NUMBER,
                address="x",
                idempotency_key="again",
            )
        )


def test_link_unknown_account_and_linking_twice(memory_ledger: Ledger, world: World) -> None:
    with pytest.raises(UnknownAccountError):
        memory_ledger.execute(
            LinkPayer.parse(payer_id="p", supplier_inn=INN, account_number="nope")
        )
    memory_ledger.execute(
        LinkPayer.parse(payer_id=world.payer_id, supplier_inn=INN, account_number=ACCOUNT_NUMBER)
    )
    assert memory_ledger.get_account(world.account_id).payer_ids == [world.payer_id]


def test_bill_rules(memory_ledger: Ledger, world: World) -> None:
    with pytest.raises(BillAlreadyIssuedError):
        memory_ledger.execute(
            IssueBill.parse(
                account_id=world.account_id,
                document_id=DOCUMENT_ID,
                period="2026-03",
                lines=[{"service": "ХВС", "amount": 1}],
                due_date="2026-04-15",
                idempotency_key="dup",
            )
        )
    with pytest.raises(InvalidBillError):
        memory_ledger.execute(
            IssueBill.parse(
                account_id=world.account_id,
                document_id="70АА000560-01-7000",
                period="2026-04",
                lines=[{"service": "Перерасчёт", "amount": -5}],
                due_date="2026-05-15",
                idempotency_key="neg",
            )
        )
    with pytest.raises(InvalidIdentifierError):
        memory_ledger.execute(
            IssueBill.parse(
                account_id=world.account_id,
                document_id="70АА000560-01-7001",
                period="2026-4",
                lines=[{"service": "ХВС", "amount": 5}],
                due_date="2026-05-15",
                idempotency_key="period",
            )
        )


def test_replaced_bill_keeps_what_was_paid_and_cannot_be_paid_itself(
    memory_ledger: Ledger, world: World
) -> None:
    pay(memory_ledger, world, "part", document_id=DOCUMENT_ID, amount=23_417)
    replacement = memory_ledger.execute(
        IssueBill.parse(
            account_id=world.account_id,
            document_id="70АА000560-01-6104",
            period="2026-03",
            lines=[
                {"service": "Отопление", "amount": 450_000},
                {"service": "ХВС", "amount": 23_417},
            ],
            due_date="2026-04-15",
            replaces=world.bill_id,
            idempotency_key="replace",
        )
    )
    assert memory_ledger.get_bill(world.bill_id).withdrawn
    account = memory_ledger.get_account(world.account_id)
    assert account.due(UUID(replacement.result["bill_id"])) == 450_000
    assert account.due() == 450_000
    with pytest.raises(BillStateConflictError):
        pay(memory_ledger, world, "old", document_id=DOCUMENT_ID)
    with pytest.raises(BillStateConflictError):
        memory_ledger.execute(WithdrawBill(bill_id=world.bill_id, reason="again"))


def test_a_bill_cannot_replace_itself(memory_ledger: Ledger, world: World) -> None:
    with pytest.raises(BillStateConflictError):
        memory_ledger.execute(
            IssueBill.parse(
                account_id=world.account_id,
                document_id=DOCUMENT_ID,
                period="2026-03",
                lines=[{"service": "ХВС", "amount": 1}],
                due_date="2026-04-15",
                replaces=world.bill_id,
                idempotency_key="self",
            )
        )
    assert not memory_ledger.get_bill(world.bill_id).withdrawn
