"""Payments, refunds, payees named by QR code or requisites, and the payment history."""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import EMAIL, Digits, Kopecks, Strict
from ledger.payments.commands import CreatePayment, RefundPayment


class RecipientBody(Strict):
    """The supplier's requisites as printed on a receipt: paying without a bill."""

    inn: Digits
    kpp: Digits | None = None
    bik: Digits
    settlement_account: Digits


CardId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]


class PaymentTarget(TypedDict):
    """The account (by id, or by supplier ИНН + number), bill and amount a payment is for, as
    the route resolved them from however the payer named the payee."""

    account_id: UUID | None
    supplier_inn: str | None
    account_number: str | None
    document_id: str | None
    amount: int | None


class CreatePaymentBody(Strict):
    """Whom to pay: `account_id`; or `supplier_inn` + `account_number`; or `recipient`
    requisites + `account_number`; or a scanned bill's `qr_payload` (ГОСТ Р 56042)."""

    qr_payload: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    recipient: RecipientBody | None = None
    account_id: UUID | None = None
    supplier_inn: Digits | None = None
    account_number: Annotated[str, Field(min_length=1, max_length=30)] | None = None
    document_id: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    amount: Kopecks | None = None
    method: Literal["card", "wallet"]
    wallet_id: UUID | None = None
    email: Annotated[str, Field(max_length=254, pattern=EMAIL)] | None = None
    confirm: bool = False
    save_card: bool = False
    """Card, with `confirm`: the acquirer saves the card for paying in one step next time."""
    saved_card_id: CardId | None = None
    """Card, with `confirm`: pay with this saved card (GET /v1/me/cards) without the payment
    page, unless the bank asks for 3-D Secure; then `checkout_url` is where to finish."""

    def command(
        self, *, payer_id: str, idempotency_key: str, target: PaymentTarget
    ) -> CreatePayment:
        return CreatePayment.parse(
            payer_id=payer_id,
            idempotency_key=idempotency_key,
            method=self.method,
            wallet_id=self.wallet_id,
            email=self.email,
            confirm=self.confirm,
            **target,
        )


class RecipientOut(BaseModel):
    inn: str
    kpp: str
    name: str
    bik: str
    settlement_account: str
    correspondent_account: str
    bank_name: str


class QrResolveBody(Strict):
    qr_payload: Annotated[str, Field(min_length=1, max_length=2000)]


class PayeeOut(BaseModel):
    """What a payload would pay, without paying: the amount is the code's `Sum`, else `due`."""

    supplier_id: UUID
    supplier_name: str
    account_id: UUID
    account_number: str
    document_id: str | None
    period: str | None
    amount: int
    due: int
    recipient: RecipientOut


class PaymentOut(BaseModel):
    id: UUID
    status: str
    amount: int
    refunded: int
    method: str
    account_id: UUID
    supplier_id: UUID
    account_number: str
    bill_id: UUID | None
    document_id: str | None
    wallet_id: UUID | None
    recipient: RecipientOut
    checkout_url: str | None = None


class StatusChange(BaseModel):
    status: str
    at: str


class PaymentDetail(PaymentOut):
    payer_id: str
    status_history: list[StatusChange]


class RefundBody(Strict):
    amount: Kopecks

    def command(self, *, payment_id: UUID, idempotency_key: str, scope: str) -> RefundPayment:
        return RefundPayment(
            payment_id=payment_id,
            amount=self.amount,
            idempotency_key=idempotency_key,
            caller_scope=scope,
        )


class RefundOut(BaseModel):
    id: UUID
    payment: PaymentOut


class HistoryItem(BaseModel):
    id: UUID
    status: str
    amount: int
    refunded: int
    method: str
    payer_id: str | None
    account_id: UUID
    supplier_id: UUID
    account_number: str
    bill_id: UUID | None
    document_id: str | None
    period: str | None
    recipient_name: str | None
    created_at: str
    updated_at: str
    kind: Literal["payment", "bank_notice"] = "payment"
    match_status: str | None = Field(
        None,
        description="new | matched | partially_matched | preliminarily_matched | impossible"
        " | annulled (see the README, «Matching»)",
    )
    matched: int = Field(0, description="kopecks matched to bill lines")
    advance: int = Field(0, description="kopecks left as the account's advance")
    order_id: str | None = None
    bank_bik: str | None = None
    order_date: str | None = None
    commission: int = 0


class HistoryPage(BaseModel):
    items: list[HistoryItem]
    next_cursor: str | None
