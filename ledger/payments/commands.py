"""Commands that move money, as data: one frozen dataclass each, handled by one function of
`ledger/payments/handlers.py`, and the result each answers with.

A command is parsed once at the edge (`parse`), then it is a value: `Ledger.execute` runs it,
a batch runs thousands of them in one transaction (`ledger/engine/batch.py`), and idempotency
fingerprints exactly the `request()` it describes.

`request()` is what the idempotency record fingerprints, so its shape is stored forever: a
field added later must leave the dictionary of existing requests unchanged. A result is what
the idempotency record keeps and a retry returns, so its keys are stored forever too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypedDict
from uuid import UUID

from ledger.domain import PersonalAccount
from ledger.domain.identifiers import parse_account_number, parse_document_id, parse_inn
from ledger.domain.payment import PaymentMethod, PaymentView
from ledger.domain.saved_cards import SavedCardView
from ledger.domain.text import ACQUIRER_REF, EMAIL, REASON
from ledger.engine.command import Command, OperatorCommand, PayerCommand
from ledger.engine.idempotent import check_key, derived_id
from ledger.errors import InvalidPaymentMethodError, UnknownAccountError


# --- results -------------------------------------------------------------------------------------
class OpenWalletResult(TypedDict):
    wallet_id: str


class RequestTopUpResult(TypedDict):
    top_up_id: str
    status: str
    amount: int


class SettleTopUpResult(TypedDict):
    top_up_id: str
    status: str


class RefundPaymentResult(TypedDict):
    refund_id: str
    payment: PaymentView


# --- wallets and top-ups -----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class OpenWallet(PayerCommand[OpenWalletResult]):
    name: ClassVar[str] = "open_wallet"

    @property
    def wallet_id(self) -> UUID:
        return derived_id("wallet", self.scope, self.idempotency_key)

    def request(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, kw_only=True)
class RequestTopUp(PayerCommand[RequestTopUpResult]):
    name: ClassVar[str] = "request_top_up"
    wallet_id: UUID
    amount: int

    @property
    def top_up_id(self) -> UUID:
        return derived_id("top_up", self.scope, self.idempotency_key)

    def request(self) -> dict[str, Any]:
        return {"wallet_id": str(self.wallet_id), "amount": self.amount}


@dataclass(frozen=True, kw_only=True)
class SettleTopUp(Command[SettleTopUpResult]):
    """The acquirer's outcome; naturally idempotent (a replay changes nothing)."""

    top_up_id: UUID
    succeeded: bool
    amount: int
    acquirer_ref: str

    def __post_init__(self) -> None:
        ACQUIRER_REF.require(self.acquirer_ref)


# --- payments ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CreatePayment(PayerCommand[PaymentView]):
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
        payer_id: str,
        idempotency_key: str,
        method: str,
        account_id: UUID | None = None,
        supplier_inn: str | None = None,
        account_number: str | None = None,
        document_id: str | None = None,
        amount: int | None = None,
        wallet_id: UUID | None = None,
        email: str | None = None,
        confirm: bool = False,
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
            payer_id=payer_id,
            idempotency_key=check_key(idempotency_key),
            account_id=account_id,
            method=method,
            document_id=parse_document_id(document_id) if document_id else None,
            amount=amount,
            wallet_id=wallet_id,
            email=None if email is None else EMAIL.require(email),
            confirm=confirm,
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


@dataclass(frozen=True, kw_only=True)
class ConfirmPayment(PayerCommand[PaymentView]):
    name: ClassVar[str] = "confirm_payment"
    payment_id: UUID

    def request(self) -> dict[str, Any]:
        return {"payment_id": str(self.payment_id)}


@dataclass(frozen=True, kw_only=True)
class CancelPayment(PayerCommand[PaymentView]):
    name: ClassVar[str] = "cancel_payment"
    payment_id: UUID
    reason: str = "requested"

    def __post_init__(self) -> None:
        super().__post_init__()
        REASON.require(self.reason)

    def request(self) -> dict[str, Any]:
        return {"payment_id": str(self.payment_id), "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class RefundPayment(OperatorCommand[RefundPaymentResult]):
    name: ClassVar[str] = "refund_payment"
    payment_id: UUID
    amount: int

    @property
    def refund_id(self) -> UUID:
        return derived_id("refund", self.scope, self.idempotency_key)

    def request(self) -> dict[str, Any]:
        return {"payment_id": str(self.payment_id), "amount": self.amount}


@dataclass(frozen=True, kw_only=True)
class SettleCardPayment(Command[PaymentView]):
    """The acquirer's outcome for a card payment; naturally idempotent."""

    payment_id: UUID
    succeeded: bool
    amount: int
    acquirer_ref: str

    def __post_init__(self) -> None:
        ACQUIRER_REF.require(self.acquirer_ref)


# --- card operations at the acquirer (handled in ledger/payments/cards.py) ------------------------
class CheckoutView(TypedDict):
    operation_id: str
    kind: str
    amount: int
    acquirer_payment_id: str
    payment_url: str
    customer_key: str | None


class CardOperationResult(TypedDict):
    """A card operation's status once the acquirer's word is recorded."""

    operation_id: str
    kind: Literal["payment", "top_up"]
    status: str


class SavedCardsResult(TypedDict):
    cards: list[SavedCardView]


CardOutcome = Literal["succeeded", "failed", "canceled"]


@dataclass(frozen=True, kw_only=True)
class OpenCardCheckout(Command[CheckoutView]):
    """Record the session the acquirer opened. The first one recorded wins: a concurrent
    retry that opened a second session gets the first one back (the second expires unpaid)."""

    operation_id: UUID
    kind: Literal["payment", "top_up"]
    payer_id: str
    amount: int
    acquirer: str
    acquirer_payment_id: str
    payment_url: str
    customer_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class SettleCardOperation(Command[CardOperationResult]):
    """The acquirer's final word on a payment or top-up. The same outcome again (a replayed or
    duplicated notification, or reconciliation racing one) changes nothing; a contrary one
    after a final outcome is a conflict, never a second movement of money."""

    operation_id: UUID
    outcome: CardOutcome
    amount: int
    acquirer_ref: str


@dataclass(frozen=True, kw_only=True)
class SaveCard(Command[SavedCardsResult]):
    """A card the acquirer saved for the payer (its notification carried a rebill id)."""

    payer_id: str
    card_id: str
    rebill_id: str
    pan: str
    exp_date: str


@dataclass(frozen=True, kw_only=True)
class RemoveSavedCard(Command[SavedCardsResult]):
    payer_id: str
    card_id: str
