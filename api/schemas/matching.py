"""The matching reads: a receipt (payment or bank notice) with its matching, and the supplier's
day report (its schemas keep their Register* names: they are the OpenAPI contract). Read from
projections/receipts.py's and day_report.py's results by attribute (`from_attributes`), so
the fields are spelled once here; only the names that differ are mapped (`validation_alias`)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

MATCH_STATUS = Literal[
    "new", "matched", "partially_matched", "preliminarily_matched", "impossible", "annulled"
]


class FromResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class MatchedLineOut(FromResult):
    bill_id: UUID
    document_id: str | None
    period: str
    line: int = Field(description="the line's index in its bill")
    service: str
    amount: int


class ReceiptOut(FromResult):
    """A payment or bank notice with its matching (квитирование)."""

    id: UUID = Field(validation_alias="receipt_id")
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


class RegisterEntryOut(FromResult):
    position: int
    at: str
    movement: Literal["received", "refunded", "annulled"]
    channel: str = Field(description="the posting bank's БИК, or card / wallet")
    amount: int
    commission: int
    receipt: ReceiptOut


class TotalsOut(FromResult):
    count: int
    received: int
    refunded: int
    annulled: int
    net: int = Field(description="received − refunded − annulled: the day's payable credit")
    commission: int


class RegisterOut(FromResult):
    supplier_id: UUID
    date: str = Field(validation_alias="day", description="the day, in Europe/Moscow time")
    time_zone: Literal["Europe/Moscow"] = "Europe/Moscow"
    entries: list[RegisterEntryOut] = Field(description="this page's lines, in log order")
    totals: TotalsOut = Field(description="the whole day's, on every page")
    by_channel: dict[str, TotalsOut]
    next_cursor: str | None = Field(description="the next page's `cursor`; null on the last")
