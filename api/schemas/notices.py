"""Bank notices posted by operators: one notice, an annulment, or a register's summary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ledger.domain.amounts import MAX_AMOUNT


class NoticeBody(BaseModel):
    """One notice, with the register's field names; amounts in integer kopecks."""

    order_id: str = Field(min_length=32, max_length=32)
    order_date: str = Field(max_length=10, description="YYYY-MM-DD or DD.MM.YYYY")
    amount: int = Field(gt=0, le=MAX_AMOUNT, strict=True)
    commission: int = Field(0, ge=0, le=MAX_AMOUNT, strict=True)
    payer: str | None = Field(None, max_length=200)
    recipient_inn: str | None = Field(None, max_length=12)
    recipient_kpp: str | None = Field(None, max_length=9)
    bik: str | None = Field(None, max_length=9)
    settlement_account: str | None = Field(None, max_length=20)
    document_id: str | None = Field(None, max_length=18)
    housing_id: str | None = Field(None, max_length=13)
    els: str | None = Field(None, max_length=10)
    account_number: str | None = Field(None, max_length=30)
    period: str | None = Field(None, max_length=7)
    purpose: str | None = Field(None, max_length=210)


class AnnulBody(BaseModel):
    order_id: str = Field(min_length=32, max_length=32)
    annul_date: str = Field(max_length=10, description="YYYY-MM-DD or DD.MM.YYYY")


class NoticeOutcome(BaseModel):
    notice_id: str
    outcome: Literal["accepted", "duplicate", "annulled"]


class RejectOut(BaseModel):
    line: int
    order_id: str | None
    code: str
    reason: str


class RegisterSummary(BaseModel):
    accepted: int
    duplicates: int
    conflicts: int
    rejected: int
    annulled: int
    seconds: float
    position: int
    rejects: list[RejectOut] = Field(description="the first 100 rejected or conflicting lines")
