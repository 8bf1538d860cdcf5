"""Personal accounts, their bills, and linking a payer to one."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import Digits, Strict, Text
from api.schemas.payments import RecipientOut
from ledger.domain.bill import BillLine
from ledger.registry.commands import ConfirmPayer, IssueBill, OpenAccount
from ledger.registry.handlers import MAX_LINE_AMOUNT


class OpenAccountBody(Strict):
    supplier_id: UUID
    account_number: Annotated[str, Field(min_length=1, max_length=30)]
    els: Annotated[str, Field(max_length=10)] | None = None
    address: Text

    def command(self, *, idempotency_key: str, scope: str) -> OpenAccount:
        return OpenAccount.parse(
            supplier_id=self.supplier_id,
            account_number=self.account_number,
            els=self.els,
            address=self.address,
            idempotency_key=idempotency_key,
            caller_scope=scope,
        )


class BillLineBody(Strict):
    service: Annotated[str, Field(min_length=1, max_length=200)]
    amount: Annotated[
        int,
        Field(
            ge=-MAX_LINE_AMOUNT,
            le=MAX_LINE_AMOUNT,
            strict=True,
            description="kopecks; < 0 for a recalculation",
        ),
    ]


class IssueBillBody(Strict):
    document_id: Annotated[str, Field(min_length=1, max_length=40, description="ИПД")]
    uin: Annotated[str, Field(max_length=25, pattern=r"^\s*[0-9]*\s*$")] | None = None
    period: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$")]
    lines: Annotated[list[BillLineBody], Field(min_length=1, max_length=100)]
    due_date: date
    replaces: UUID | None = None

    def command(self, *, account_id: UUID, idempotency_key: str, scope: str) -> IssueBill:
        return IssueBill.parse(
            account_id=account_id,
            document_id=self.document_id,
            uin=self.uin,
            period=self.period,
            lines=[BillLine(service=line.service, amount=line.amount) for line in self.lines],
            due_date=self.due_date.isoformat(),
            replaces=self.replaces,
            idempotency_key=idempotency_key,
            caller_scope=scope,
        )


class BillIssued(BaseModel):
    id: UUID
    amount_due: int


class LinkProofBody(Strict):
    """Proof of possession: the ИПД printed on one of the account's current bills. Nothing an
    unproven link or a QR look-up shows can prove it: a bill total (accepted before issue 16)
    is refused, since `due` is a bill's total whenever one unpaid bill is all that is due."""

    document_id: Annotated[str, Field(min_length=1, max_length=40, description="ИПД")]

    @model_validator(mode="before")
    @classmethod
    def no_bill_total(cls, data: Any) -> Any:
        if isinstance(data, dict) and "bill_total" in data:
            raise ValueError(
                "a bill total no longer proves possession: give the ИПД printed on the bill"
                " (document_id)"
            )
        return data


class LinkAccountBody(Strict):
    supplier_inn: Digits
    account_number: Annotated[str, Field(min_length=1, max_length=30)]
    proof: LinkProofBody | None = None
    """Without a proof the link lets the payer pay, and shows only a masked address and what
    is due; with one (or an operator's confirmation) it shows the account in full."""


class ConfirmPayerBody(Strict):
    payer_id: Annotated[str, Field(min_length=1, max_length=200)]

    def command(self, *, account_id: UUID, idempotency_key: str, scope: str) -> ConfirmPayer:
        return ConfirmPayer.parse(
            account_id=account_id,
            payer_id=self.payer_id,
            idempotency_key=idempotency_key,
            caller_scope=scope,
        )


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


# --- a bill as its payment document -----------------------------------------------------------
class BillLineOut(BaseModel):
    service: str
    amount: int


class BillDocument(BaseModel):
    id: UUID
    account_id: UUID
    account_number: str
    document_id: str
    uin: str | None
    period: str
    due_date: str
    lines: list[BillLineOut]
    amount_due: int
    paid: int
    status: str
    replaces: UUID | None = None
    replaced_by: UUID | None = None
    recipient: RecipientOut
    qr_payload: str = Field(description="the bill's ГОСТ Р 56042 payload (Sum = what is due now)")
    as_of: int
