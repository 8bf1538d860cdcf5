"""Commands that move money, as data: one frozen dataclass each, with one handler.

A command is parsed once at the edge (`parse`), then it is a value: the Ledger's methods run
it, a batch runs thousands of them in one transaction (`ledger/engine/batch.py`), and idempotency
fingerprints exactly the `request()` it describes. Calling a command with a unit of work runs
it, recording its idempotency key when it has one, so any runner takes it as it takes a function.

`request()` is what the idempotency record fingerprints, so its shape is stored forever: a
field added later must leave the dictionary of existing requests unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from ledger.domain import PersonalAccount
from ledger.domain.identifiers import parse_account_number, parse_document_id, parse_inn
from ledger.domain.payment import PaymentMethod
from ledger.domain.text import ACQUIRER_REF, EMAIL, REASON
from ledger.engine.command import OperatorCommand, PayerCommand, Result
from ledger.engine.idempotent import check_key, derived_id
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import InvalidPaymentMethodError, UnknownAccountError
from ledger.payments import handlers


# --- wallets and top-ups -----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class OpenWallet(PayerCommand):
    name: ClassVar[str] = "open_wallet"

    def request(self) -> dict[str, Any]:
        return {}

    def handle(self, uow: UnitOfWork) -> Result:
        wallet_id = derived_id("wallet", self.scope, self.idempotency_key)
        return handlers.open_wallet(uow, wallet_id=wallet_id, payer_id=self.payer_id)


@dataclass(frozen=True, kw_only=True)
class RequestTopUp(PayerCommand):
    name: ClassVar[str] = "request_top_up"
    wallet_id: UUID
    amount: int

    def request(self) -> dict[str, Any]:
        return {"wallet_id": str(self.wallet_id), "amount": self.amount}

    def handle(self, uow: UnitOfWork) -> Result:
        return handlers.request_top_up(
            uow,
            top_up_id=derived_id("top_up", self.scope, self.idempotency_key),
            wallet_id=self.wallet_id,
            payer_id=self.payer_id,
            amount=self.amount,
        )


@dataclass(frozen=True, kw_only=True)
class SettleTopUp:
    """The acquirer's outcome; naturally idempotent (a replay changes nothing)."""

    top_up_id: UUID
    succeeded: bool
    amount: int
    acquirer_ref: str

    def __post_init__(self) -> None:
        ACQUIRER_REF.require(self.acquirer_ref)

    def __call__(self, uow: UnitOfWork) -> Result:
        return handlers.settle_top_up(
            uow,
            top_up_id=self.top_up_id,
            succeeded=self.succeeded,
            amount=self.amount,
            acquirer_ref=self.acquirer_ref,
        )


# --- payments ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CreatePayment(PayerCommand):
    """Pay a personal account, optionally confirming at once (`confirm`)."""

    name: ClassVar[str] = "create_payment"
    method: str
    account_id: UUID
    document_id: str | None = None
    amount: int | None = None
    wallet_id: UUID | None = None
    email: str | None = None
    confirm: bool = False

    @classmethod
    def parse(
        cls,
        *,
        account_id: UUID | None = None,
        supplier_inn: str | None = None,
        account_number: str | None = None,
        method: str,
        document_id: str | None = None,
        email: str | None = None,
        idempotency_key: str,
        **fields: Any,
    ) -> CreatePayment:
        """From what a caller sends: the account by id, or by supplier ИНН + number."""
        if account_id is None:
            if supplier_inn is None or account_number is None:
                raise UnknownAccountError("give account_id, or supplier_inn with account_number")
            account_id = PersonalAccount.id_for(
                parse_inn(supplier_inn), parse_account_number(account_number)
            )
        if method not in set(PaymentMethod):
            raise InvalidPaymentMethodError(
                f"method must be card or wallet, got {method!r}", method=method
            )
        return cls(
            account_id=account_id,
            method=method,
            document_id=parse_document_id(document_id) if document_id else None,
            email=None if email is None else EMAIL.require(email),
            idempotency_key=check_key(idempotency_key),
            **fields,
        )

    @property
    def payment_id(self) -> UUID:
        return derived_id("payment", self.scope, self.idempotency_key)

    def request(self) -> dict[str, Any]:
        return {
            "account_id": str(self.account_id),
            "document_id": self.document_id,
            "amount": self.amount,
            "method": self.method,
            "wallet_id": str(self.wallet_id) if self.wallet_id else None,
            "email": self.email,
            "confirm": self.confirm,
        }

    def handle(self, uow: UnitOfWork) -> Result:
        return handlers.create_payment(
            uow,
            payment_id=self.payment_id,
            payer_id=self.payer_id,
            account_id=self.account_id,
            document_id=self.document_id,
            amount=self.amount,
            method=self.method,
            wallet_id=self.wallet_id,
            email=self.email,
            confirm=self.confirm,
        )


@dataclass(frozen=True, kw_only=True)
class ConfirmPayment(PayerCommand):
    name: ClassVar[str] = "confirm_payment"
    payment_id: UUID

    def request(self) -> dict[str, Any]:
        return {"payment_id": str(self.payment_id)}

    def handle(self, uow: UnitOfWork) -> Result:
        return handlers.confirm_payment(uow, payment_id=self.payment_id, payer_id=self.payer_id)


@dataclass(frozen=True, kw_only=True)
class CancelPayment(PayerCommand):
    name: ClassVar[str] = "cancel_payment"
    payment_id: UUID
    reason: str = "requested"

    def __post_init__(self) -> None:
        super().__post_init__()
        REASON.require(self.reason)

    def request(self) -> dict[str, Any]:
        return {"payment_id": str(self.payment_id), "reason": self.reason}

    def handle(self, uow: UnitOfWork) -> Result:
        return handlers.cancel_payment(
            uow, payment_id=self.payment_id, payer_id=self.payer_id, reason=self.reason
        )


@dataclass(frozen=True, kw_only=True)
class RefundPayment(OperatorCommand):
    name: ClassVar[str] = "refund_payment"
    payment_id: UUID
    amount: int

    def request(self) -> dict[str, Any]:
        return {"payment_id": str(self.payment_id), "amount": self.amount}

    def handle(self, uow: UnitOfWork) -> Result:
        return handlers.refund_payment(
            uow,
            refund_id=derived_id("refund", self.scope, self.idempotency_key),
            payment_id=self.payment_id,
            amount=self.amount,
        )


@dataclass(frozen=True, kw_only=True)
class SettleCardPayment:
    """The acquirer's outcome for a card payment; naturally idempotent."""

    payment_id: UUID
    succeeded: bool
    amount: int
    acquirer_ref: str

    def __post_init__(self) -> None:
        ACQUIRER_REF.require(self.acquirer_ref)

    def __call__(self, uow: UnitOfWork) -> Result:
        return handlers.settle_card_payment(
            uow,
            payment_id=self.payment_id,
            succeeded=self.succeeded,
            amount=self.amount,
            acquirer_ref=self.acquirer_ref,
        )
