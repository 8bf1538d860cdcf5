"""Response schemas of the matching reads: a notice's view and the supplier register."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from projections.register import ReceiptMatch, RegisterEntry, SupplierRegister, Totals

MATCH_STATUS = Literal[
    "new", "matched", "partially_matched", "preliminarily_matched", "impossible", "annulled"
]


class MatchedLineOut(BaseModel):
    bill_id: UUID
    document_id: str | None
    period: str
    line: int = Field(description="the line's index in its bill")
    service: str
    amount: int


class ReceiptOut(BaseModel):
    """A payment or bank notice with its matching (квитирование)."""

    id: UUID
    kind: Literal["payment", "bank_notice"]
    status: str = Field(description="succeeded | annulled for a notice; a payment's own status")
    match_status: MATCH_STATUS
    account_id: UUID
    supplier_id: UUID
    account_number: str | None
    method: str
    bank_bik: str | None
    order_id: str | None
    order_date: str | None
    payer_name: str | None
    purpose: str | None
    references: dict[str, str]
    bill_id: UUID | None = Field(description="the bill the payer named, if any")
    document_id: str | None
    period: str | None
    amount: int
    commission: int = Field(description="kept by the bank, never credited to the supplier")
    reversed: int = Field(description="refunded or annulled so far")
    matched: int
    advance: int
    lines: list[MatchedLineOut]
    created_at: str
    updated_at: str


class RegisterEntryOut(BaseModel):
    position: int
    at: str
    movement: Literal["received", "refunded", "annulled"]
    channel: str = Field(description="the posting bank's БИК, or card / wallet")
    amount: int
    commission: int
    receipt: ReceiptOut


class TotalsOut(BaseModel):
    count: int
    received: int
    refunded: int
    annulled: int
    net: int = Field(description="received − refunded − annulled: the day's payable credit")
    commission: int


class RegisterOut(BaseModel):
    supplier_id: UUID
    date: str = Field(description="the day, in Europe/Moscow time")
    time_zone: Literal["Europe/Moscow"] = "Europe/Moscow"
    entries: list[RegisterEntryOut]
    totals: TotalsOut
    by_channel: dict[str, TotalsOut]


def receipt_out(found: ReceiptMatch) -> ReceiptOut:
    return ReceiptOut(
        id=UUID(found.receipt_id),
        kind=found.kind,  # type: ignore[arg-type]
        status=found.status,
        match_status=found.match_status,  # type: ignore[arg-type]
        account_id=UUID(found.account_id),
        supplier_id=UUID(found.supplier_id),
        account_number=found.account_number,
        method=found.method,
        bank_bik=found.bank_bik,
        order_id=found.order_id,
        order_date=found.order_date,
        payer_name=found.payer_name,
        purpose=found.purpose,
        references=found.references,
        bill_id=UUID(found.bill_id) if found.bill_id else None,
        document_id=found.document_id,
        period=found.period,
        amount=found.amount,
        commission=found.commission,
        reversed=found.reversed,
        matched=found.matched,
        advance=found.advance,
        lines=[MatchedLineOut(**line.__dict__) for line in found.lines],
        created_at=found.created_at,
        updated_at=found.updated_at,
    )


def totals_out(totals: Totals) -> TotalsOut:
    return TotalsOut(**totals.__dict__, net=totals.net)


def entry_out(entry: RegisterEntry) -> RegisterEntryOut:
    return RegisterEntryOut(
        position=entry.position,
        at=entry.at,
        movement=entry.movement,  # type: ignore[arg-type]
        channel=entry.channel,
        amount=entry.amount,
        commission=entry.commission,
        receipt=receipt_out(entry.receipt),
    )


def register_out(register: SupplierRegister) -> RegisterOut:
    return RegisterOut(
        supplier_id=UUID(register.supplier_id),
        date=register.day,
        entries=[entry_out(e) for e in register.entries],
        totals=totals_out(register.totals),
        by_channel={k: totals_out(v) for k, v in register.by_channel.items()},
    )
