"""Request and response bodies. Amounts are integer kopecks; unknown fields are rejected."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Strict: a JSON string ("100"), float (100.0) or boolean (true) is not an amount of kopecks.
Kopecks = Annotated[int, Field(gt=0, le=10**12, strict=True, description="integer kopecks")]
Text = Annotated[str, Field(min_length=1, max_length=500)]
Digits = Annotated[str, Field(min_length=1, max_length=40)]
# ASCII digits only: str.isdigit() also accepts "²" or "٣", which the ledger's checks then choke on.
AsciiDigits = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^\s*[0-9]+\s*$")]


# No whitespace and no control characters (a NUL would reach the SMTP server's headers).
EMAIL = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- suppliers ---------------------------------------------------------------------------------
class RequisitesBody(Strict):
    bik: AsciiDigits
    settlement_account: AsciiDigits
    correspondent_account: AsciiDigits
    bank_name: Text


class RegisterSupplier(Strict):
    inn: Digits
    kpp: AsciiDigits
    name: Text
    requisites: RequisitesBody


class SupplierOut(BaseModel):
    id: UUID
    inn: str
    kpp: str
    name: str
    requisites: RequisitesBody


class SupplierList(BaseModel):
    items: list[SupplierOut]
    next_cursor: str | None = None


# --- accounts and bills ------------------------------------------------------------------------
class OpenAccount(Strict):
    supplier_id: UUID
    account_number: Annotated[str, Field(min_length=1, max_length=30)]
    els: Annotated[str, Field(max_length=10)] | None = None
    address: Text


class Created(BaseModel):
    id: UUID


class BillLineBody(Strict):
    service: Annotated[str, Field(min_length=1, max_length=200)]
    amount: Annotated[
        int,
        Field(ge=-(10**11), le=10**11, strict=True, description="kopecks; < 0 for a recalculation"),
    ]


class IssueBill(Strict):
    document_id: Annotated[str, Field(min_length=1, max_length=40, description="ИПД")]
    uin: Annotated[str, Field(max_length=25, pattern=r"^\s*[0-9]*\s*$")] | None = None
    period: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$")]
    lines: Annotated[list[BillLineBody], Field(min_length=1, max_length=100)]
    due_date: date
    replaces: UUID | None = None


class BillIssued(BaseModel):
    id: UUID
    amount_due: int


class LinkProof(Strict):
    """Proof of possession: the ИПД printed on one of the account's current bills, or the total
    to pay of one of them (kopecks). Give one."""

    document_id: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    bill_total: Annotated[int, Field(ge=0, le=10**13)] | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> LinkProof:
        if (self.document_id is None) == (self.bill_total is None):
            raise ValueError("give exactly one of document_id and bill_total")
        return self


class LinkAccount(Strict):
    supplier_inn: Digits
    account_number: Annotated[str, Field(min_length=1, max_length=30)]
    proof: LinkProof | None = None
    """Without a proof the link lets the payer pay, and shows only a masked address and what
    is due; with one (or an operator's confirmation) it shows the account in full."""


class ConfirmPayer(Strict):
    payer_id: Annotated[str, Field(min_length=1, max_length=200)]


class BillOut(BaseModel):
    id: UUID
    document_id: str
    period: str
    due_date: str
    amount_due: int
    paid: int
    status: str
    replaces: UUID | None = None
    replaced_by: UUID | None = None


class BalanceOut(BaseModel):
    """A payer whose link is not proven sees `due` only; the other amounts are null."""

    accrued: int | None
    paid: int | None
    refunded: int | None
    due: int
    advance: int | None


class AccountOut(BaseModel):
    id: UUID
    supplier_id: UUID
    supplier_inn: str
    account_number: str
    els: str | None
    address: str
    balance: BalanceOut
    bills: list[BillOut]
    as_of: int = Field(description="the log position the balance reflects")
    access: Literal["full", "limited"] = Field(
        "full",
        description="limited: the payer's link is not proven (POST /v1/me/accounts with a"
        " proof); the address is masked, ЕЛС, bills and amounts other than `due` are hidden",
    )


class AccountList(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None = None


# --- wallets -----------------------------------------------------------------------------------
class OpenWallet(Strict):
    pass


class WalletOut(BaseModel):
    id: UUID
    payer_id: str
    balance: int
    as_of: int


class WalletList(BaseModel):
    items: list[WalletOut]


class TopUpBody(Strict):
    amount: Kopecks


class TopUpOut(BaseModel):
    id: UUID
    status: str
    amount: int
    checkout_url: str | None = None


# --- payments ----------------------------------------------------------------------------------
class RecipientBody(Strict):
    """The supplier's requisites as printed on a receipt: paying without a bill."""

    inn: Digits
    kpp: Digits | None = None
    bik: Digits
    settlement_account: Digits


class CreatePayment(Strict):
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


# --- acquirer ----------------------------------------------------------------------------------
class AcquirerNotification(Strict):
    operation_id: UUID
    status: Literal["succeeded", "declined"]
    amount: Kopecks
    acquirer_ref: Annotated[str, Field(min_length=1, max_length=100)]


class NotificationAck(BaseModel):
    operation_id: UUID
    kind: Literal["payment", "top_up"]
    status: str
