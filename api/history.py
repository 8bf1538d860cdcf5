"""The payment history's filters and items, shared by an account's history and the resident's
own (/v1/me/payments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

from fastapi import Depends, Query
from pydantic import AfterValidator, AwareDatetime

from api.deps import MinPositionDep
from api.schemas.payments import HistoryItem, HistoryPage
from ledger.domain import PaymentStatus
from projections import queries
from projections.read_models import ReadModels
from projections.results import PaymentEntry, PaymentPage

if TYPE_CHECKING:
    StatusFilter: TypeAlias = str
else:  # FastAPI checks and documents the values of this Literal: the statuses, in their order
    StatusFilter = Literal[tuple(status.value for status in PaymentStatus)]


def in_utc_range(moment: datetime) -> datetime:
    """The read side compares fixed-width UTC text: the moment must have a 4-digit UTC year."""
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        year = 0
    if year < 1000:
        raise ValueError("the moment is out of range (years 1000–9999 in UTC)")
    return moment


Moment = Annotated[
    AwareDatetime | None,
    AfterValidator(lambda m: None if m is None else in_utc_range(m)),
    Query(description="ISO 8601 with a time zone, e.g. 2026-03-01T00:00:00+03:00"),
]


@dataclass(frozen=True)
class HistoryFilters:
    """Query parameters shared by every payment-history route."""

    cursor: str | None
    limit: int
    statuses: tuple[str, ...]
    period: str | None
    created_from: datetime | None
    created_before: datetime | None
    min_position: int


async def history_filters(
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Annotated[list[StatusFilter] | None, Query(max_length=8)] = None,
    period: Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")] = None,
    created_from: Moment = None,
    created_before: Moment = None,
    min_position: MinPositionDep = 0,
) -> HistoryFilters:
    # `async`: FastAPI would run a sync (or class) dependency in the threadpool.
    return HistoryFilters(
        cursor, limit, tuple(status or ()), period, created_from, created_before, min_position
    )


HistoryFiltersDep = Annotated[HistoryFilters, Depends(history_filters)]


def history_item(entry: PaymentEntry) -> HistoryItem:
    return HistoryItem(
        id=entry.payment_id,
        status=entry.status,
        amount=entry.amount,
        refunded=entry.refunded,
        method=entry.method,
        payer_id=entry.payer_id,
        account_id=entry.account_id,
        supplier_id=entry.supplier_id,
        account_number=entry.account_number,
        bill_id=entry.bill_id,
        document_id=entry.document_id,
        period=entry.period,
        recipient_name=entry.recipient.get("name"),
        created_at=entry.created_at.isoformat(),
        updated_at=entry.updated_at.isoformat(),
        kind=entry.kind,
        match_status=entry.match_status,
        matched=entry.matched,
        advance=entry.advance,
        order_id=entry.order_id,
        bank_bik=entry.bank_bik,
        order_date=entry.order_date,
        commission=entry.commission,
    )


def history_query(
    read_models: ReadModels, filters: HistoryFilters, *, cached_only: bool = False, **scope: str
) -> PaymentPage | None:
    return queries.payment_history(
        read_models,
        cached_only=cached_only,
        **scope,
        statuses=filters.statuses,
        period=filters.period,
        created_from=filters.created_from,
        created_before=filters.created_before,
        limit=filters.limit,
        cursor=filters.cursor,
        min_position=filters.min_position,
    )


def history_out(page: PaymentPage) -> HistoryPage:
    return HistoryPage(items=[history_item(e) for e in page.items], next_cursor=page.next_cursor)
