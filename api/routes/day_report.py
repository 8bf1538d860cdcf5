"""The supplier's day report (реестр платежей, at `/register`): one day of a supplier's money,
as JSON or CSV.

For the supplier's accountant: every payment and notice that moved the supplier's money that
day (Europe/Moscow), with references, amounts, commission, match status and the bill lines it
paid, and totals to reconcile against the bank statement. The CSV is `;`-separated UTF-8 with a
BOM, amounts in rubles with a decimal comma, so Excel opens it as it is; the lines a receipt
paid are in one column, `ИПД service amount` joined by ` | `.

A day has no size limit. JSON comes in pages (`limit`, `next_cursor`), each with the whole day's
totals; the CSV is the whole day, streamed a page at a time, its totals (summed by the database)
written last over exactly the lines above them. Text that would start a formula is written as
text (api/spreadsheet.py).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from itertools import chain
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from api.deps import LedgerDep, MinPositionDep, ReadDep, SupplierReaderDep
from api.operator_scopes import require_in_scope
from api.problems import ApiProblem, responses
from api.schemas.matching import RegisterOut
from api.spreadsheet import SpreadsheetWriter
from ledger.domain.amounts import rubles
from projections import day_report as reports
from projections.day_report import DayReportEntry, Totals
from projections.models.matching import MOSCOW
from projections.read_models import ReadModels

router = APIRouter(prefix="/v1/suppliers", tags=["suppliers"])
CSV_MEDIA = "text/csv; charset=utf-8"
COLUMNS = [
    "date",
    "time_msk",
    "movement",
    "kind",
    "id",
    "bank_bik",
    "order_id",
    "order_date",
    "account_number",
    "document_id",
    "period",
    "payer",
    "amount",
    "commission",
    "match_status",
    "matched",
    "advance",
    "lines",
    "references",
]


class InvalidDateProblem(ApiProblem):
    status, code, title = 422, "invalid_date", "Not a calendar date"


def parse_day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidDateProblem(f"{text!r} is not a date (YYYY-MM-DD)", date=text) from None


@router.get(
    "/{supplier_id}/register",
    # The id and summary the path has always had in the OpenAPI document (clients generate
    # from it): the HTTP contract keeps the word "register" here, the code says day report.
    operation_id="supplier_register_v1_suppliers__supplier_id__register_get",
    summary="Supplier Register",
    response_model=RegisterOut,
    responses={
        **responses(403, 404, 422, 503),
        200: {"content": {"application/json": {}, CSV_MEDIA: {}}, "description": "The day"},
    },
)
def day_report(
    supplier_id: UUID,
    caller: SupplierReaderDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    date: Annotated[
        str,
        Query(
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            description="the day, YYYY-MM-DD, in Europe/Moscow time",
        ),
    ],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    limit: Annotated[
        int, Query(ge=1, le=reports.MAX_PAGE, description="lines per JSON page")
    ] = reports.PAGE,
    cursor: Annotated[
        str | None, Query(max_length=500, description="a JSON page's `next_cursor`")
    ] = None,
    min_position: MinPositionDep = 0,
) -> RegisterOut | Response:
    """Totals: `received` (payments succeeded and notices accepted that day), `refunded`,
    `annulled`, `net` (= received − refunded − annulled, the day's credit to the supplier's
    payable accounts), `commission` (kept by banks from the day's notices), per channel.
    JSON: a page of lines (follow `next_cursor`), each page with the whole day's totals. CSV:
    the whole day (`limit` and `cursor` do not apply)."""
    require_in_scope(caller, supplier_id=supplier_id)
    day = parse_day(date)
    supplier = ledger.get_supplier(supplier_id)  # an unknown supplier is a 404
    if format == "json":
        found = reports.day_report(
            read_models, supplier_id, day, limit=limit, cursor=cursor, min_position=min_position
        )
        return RegisterOut.model_validate(found)
    pages = reports.day_report_pages(read_models, supplier_id, day, min_position=min_position)
    first = next(pages, [])  # read here, so a failure is still a problem, not a cut stream
    filename = f"register-{supplier.inn}-{day}.csv"
    return StreamingResponse(
        csv_export(read_models, str(supplier_id), day, chain([first], pages)),
        media_type=CSV_MEDIA,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class CsvLines:
    """The export's text: `;`-separated, CRLF, UTF-8 with a BOM, taken a chunk at a time."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.buffer.write("\ufeff")
        self.writer = SpreadsheetWriter(self.buffer)  # formulas become text

    def row(self, cells: Sequence[object]) -> None:
        """Every line of the export is written here."""
        self.writer.writerow(cells)

    def take(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")


def csv_export(
    read_models: ReadModels, supplier_id: str, day: str, pages: Iterator[list[DayReportEntry]]
) -> Iterator[bytes]:
    """The header, each page of lines as a chunk, then the totals over exactly those lines."""
    out = CsvLines()
    out.row(COLUMNS)
    last = 0
    for page in pages:
        for entry in page:
            out.row(entry_cells(day, entry))
        if page:
            last = page[-1].position
        yield out.take()
    totals, by_channel = reports.day_totals(read_models, supplier_id, day, through=last)
    out.row([])
    out.row(["total", "channel", "count", "received", "refunded", "annulled", "net", "commission"])
    rows: list[tuple[str, Totals]] = [*by_channel.items(), ("all", totals)]
    for channel, channel_totals in rows:
        out.row(
            [
                day,
                channel,
                channel_totals.count,
                rubles(channel_totals.received),
                rubles(channel_totals.refunded),
                rubles(channel_totals.annulled),
                rubles(channel_totals.net),
                rubles(channel_totals.commission),
            ]
        )
    yield out.take()


def entry_cells(day: str, entry: DayReportEntry) -> list[str]:
    r = entry.receipt
    sign = 1 if entry.movement == "received" else -1
    return [
        day,
        _moscow_time(entry.at),
        entry.movement,
        r.kind,
        r.receipt_id,
        r.bank_bik or "",
        r.order_id or "",
        r.order_date or "",
        r.account_number or "",
        r.document_id or "",
        r.period or "",
        r.payer_name or "",
        rubles(sign * entry.amount),
        rubles(entry.commission),
        r.match_status,
        rubles(r.matched),
        rubles(r.advance),
        " | ".join(
            f"{line.document_id or line.bill_id} {line.service} {rubles(line.amount)}"
            for line in r.lines
        ),
        ", ".join(f"{k}={v}" for k, v in sorted(r.references.items())),
    ]


def _moscow_time(at: str) -> str:
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(MOSCOW)
    return moment.strftime("%H:%M:%S")
