"""Commands as data: the request each keyed command fingerprints is stored forever.

Keys recorded before commands became dataclasses must still replay, so every command's
`request()` must be the very dictionary the hand-written methods built (written out here).
"""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.domain import PersonalAccount, Requisites
from ledger.domain.idempotency import fingerprint
from ledger.engine.command import KeyedCommand
from ledger.errors import InvalidPaymentMethodError, UnknownAccountError
from ledger.payments.commands import (
    CancelPayment,
    ConfirmPayment,
    CreatePayment,
    OpenWallet,
    RefundPayment,
    RequestTopUp,
)
from ledger.registry.commands import (
    ChangeSupplierRequisites,
    ConfirmPayer,
    IssueBill,
    LinkPayer,
    OpenAccount,
    RegisterSupplier,
)
from tests.fixtures import ACCOUNT_NUMBER, DOCUMENT_ID, INN, KPP, REQUISITES

ACCOUNT = UUID("11111111-1111-5111-8111-111111111111")
WALLET = UUID("22222222-2222-5222-8222-222222222222")
PAYMENT = UUID("33333333-3333-5333-8333-333333333333")
SUPPLIER = UUID("44444444-4444-5444-8444-444444444444")
BILL = UUID("55555555-5555-5555-8555-555555555555")
LINES = [{"service": "Отопление", "amount": 300}, {"service": "Перерасчёт", "amount": -100}]

CASES: list[tuple[KeyedCommand, str, dict[str, object]]] = [
    (
        CreatePayment(
            payer_id="anna",
            account_id=ACCOUNT,
            method="wallet",
            wallet_id=WALLET,
            amount=500,
            confirm=True,
            idempotency_key="k",
        ),
        "payer:anna",
        {
            "account_id": str(ACCOUNT),
            "document_id": None,
            "amount": 500,
            "method": "wallet",
            "wallet_id": str(WALLET),
            "email": None,
            "confirm": True,
        },
    ),
    (
        ConfirmPayment(payment_id=PAYMENT, payer_id="anna", idempotency_key="k"),
        "payer:anna",
        {"payment_id": str(PAYMENT)},
    ),
    (
        CancelPayment(payment_id=PAYMENT, payer_id="anna", idempotency_key="k"),
        "payer:anna",
        {"payment_id": str(PAYMENT), "reason": "requested"},
    ),
    (
        RefundPayment(payment_id=PAYMENT, amount=100, idempotency_key="k"),
        "operator",
        {"payment_id": str(PAYMENT), "amount": 100},
    ),
    (OpenWallet(payer_id="anna", idempotency_key="k"), "payer:anna", {}),
    (
        RequestTopUp(wallet_id=WALLET, payer_id="anna", amount=700, idempotency_key="k"),
        "payer:anna",
        {"wallet_id": str(WALLET), "amount": 700},
    ),
    # The registry's commands, against what Ledger's methods built before they were dataclasses.
    (
        RegisterSupplier.parse(
            inn=INN, kpp=KPP, name=" УК ", requisites=REQUISITES, idempotency_key="k"
        ),
        "operator",
        {"inn": INN, "kpp": KPP, "name": " УК ", "requisites": REQUISITES},
    ),
    (
        ChangeSupplierRequisites.parse(
            supplier_id=SUPPLIER, requisites=REQUISITES, idempotency_key="k", caller_scope="svc"
        ),
        "svc",
        {"supplier_id": str(SUPPLIER), "requisites": Requisites.parse(**REQUISITES).as_dict()},
    ),
    (
        OpenAccount.parse(
            supplier_id=SUPPLIER,
            account_number=ACCOUNT_NUMBER,
            address="ул. 1",
            idempotency_key="k",
        ),
        "operator",
        {"supplier_id": str(SUPPLIER), "number": ACCOUNT_NUMBER, "els": None, "address": "ул. 1"},
    ),
    (
        ConfirmPayer.parse(account_id=ACCOUNT, payer_id="anna", idempotency_key="k"),
        "operator",
        {"account_id": str(ACCOUNT), "payer_id": "anna"},
    ),
    (
        IssueBill.parse(
            account_id=ACCOUNT,
            document_id=DOCUMENT_ID,
            period="2026-03",
            lines=LINES,  # type: ignore[arg-type]
            due_date="2026-04-10",
            replaces=BILL,
            idempotency_key="k",
        ),
        "operator",
        {
            "account_id": str(ACCOUNT),
            "document_id": DOCUMENT_ID,
            "period": "2026-03",
            "lines": LINES,
            "due_date": "2026-04-10",
            "uin": None,
            "replaces": str(BILL),
        },
    ),
]


@pytest.mark.parametrize(("command", "scope", "request_before"), CASES)
def test_a_command_fingerprints_the_request_the_old_methods_recorded(
    command: KeyedCommand, scope: str, request_before: dict[str, object]
) -> None:
    assert command.scope == scope
    assert fingerprint(command.name, command.request()) == fingerprint(command.name, request_before)


@pytest.mark.parametrize(
    ("proof", "request_before"),
    [
        ({}, {"supplier_inn": INN, "account_number": ACCOUNT_NUMBER}),
        (  # with `bill_total: None`, as recorded when a bill total could be the proof
            {"document_id": DOCUMENT_ID},
            {
                "supplier_inn": INN,
                "account_number": ACCOUNT_NUMBER,
                "document_id": DOCUMENT_ID,
                "bill_total": None,
            },
        ),
    ],
)
def test_a_link_fingerprints_its_proof_only_when_it_has_one(
    proof: dict[str, object], request_before: dict[str, object]
) -> None:
    link = LinkPayer.parse(
        payer_id="anna",
        supplier_inn=INN,
        account_number=ACCOUNT_NUMBER,
        idempotency_key="k",
        **proof,  # type: ignore[arg-type]
    )
    assert fingerprint(link.name, link.request()) == fingerprint("link_payer", request_before)


def test_a_payment_names_its_account_by_id_or_by_supplier_requisites() -> None:
    by_requisites = CreatePayment.parse(
        payer_id="anna",
        supplier_inn="7701234560",
        account_number="0667000001",
        method="card",
        idempotency_key="k",
    )
    assert by_requisites.account_id == PersonalAccount.id_for("7701234560", "0667000001")
    with pytest.raises(UnknownAccountError):
        CreatePayment.parse(payer_id="anna", method="card", idempotency_key="k")
    with pytest.raises(InvalidPaymentMethodError):
        CreatePayment.parse(payer_id="anna", account_id=ACCOUNT, method="cash", idempotency_key="k")


def test_commands_are_values() -> None:
    one = ConfirmPayment(payment_id=PAYMENT, payer_id="anna", idempotency_key="k")
    assert one == ConfirmPayment(payment_id=PAYMENT, payer_id="anna", idempotency_key="k")
    with pytest.raises(AttributeError):
        one.payer_id = "boris"  # type: ignore[misc]
