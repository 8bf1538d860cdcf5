"""Commands as data: the request each keyed command fingerprints is stored forever.

Keys recorded before commands became dataclasses must still replay, so every command's
`request()` must be the very dictionary the hand-written methods built (written out here).
"""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.commands import (
    CancelPayment,
    ConfirmPayment,
    CreatePayment,
    KeyedCommand,
    OpenWallet,
    RefundPayment,
    RequestTopUp,
)
from ledger.domain import PersonalAccount
from ledger.domain.idempotency import fingerprint
from ledger.errors import InvalidPaymentMethodError, UnknownAccountError

ACCOUNT = UUID("11111111-1111-5111-8111-111111111111")
WALLET = UUID("22222222-2222-5222-8222-222222222222")
PAYMENT = UUID("33333333-3333-5333-8333-333333333333")

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
]


@pytest.mark.parametrize(("command", "scope", "request_before"), CASES)
def test_a_command_fingerprints_the_request_the_old_methods_recorded(
    command: KeyedCommand, scope: str, request_before: dict[str, object]
) -> None:
    assert command.scope == scope
    assert fingerprint(command.name, command.request()) == fingerprint(command.name, request_before)


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
