"""The supplier register (реестр платежей): one day of a supplier's money, as JSON or CSV.

For the supplier's accountant: every payment and notice that moved the supplier's money that
day (Europe/Moscow), with references, amounts, commission, match status and the bill lines it
paid, and totals to reconcile against the bank statement. The CSV is `;`-separated UTF-8 with a
BOM, amounts in rubles with a decimal comma, so Excel opens it as it is; the lines a receipt
paid are in one column, `ИПД service amount` joined by ` | `.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.deps import LedgerDep, MinPositionDep, ReadDep, SupplierReaderDep
from api.operator_scopes import require_in_scope
from api.problems import ApiProblem, responses
from api.schemas.matching import RegisterOut
from ledger.domain.amounts import rubles
from projections import register
from projections.models.matching import MOSCOW
from projections.register import SupplierRegister, Totals

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
    response_model=RegisterOut,
    responses={
        **responses(403, 404, 422, 503),
        200: {"content": {"application/json": {}, CSV_MEDIA: {}}, "description": "The day"},
    },
)
def supplier_register(
    supplier_id: UUID,
    caller: SupplierReaderDep,
    ledger: LedgerDep,
    rm: ReadDep,
    date: Annotated[
        str,
        Query(
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            description="the day, YYYY-MM-DD, in Europe/Moscow time",
        ),
    ],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    min_position: MinPositionDep = 0,
) -> RegisterOut | Response:
    """Totals: `received` (payments succeeded and notices accepted that day), `refunded`,
    `annulled`, `net` (= received − refunded − annulled, the day's credit to the supplier's
    payable accounts), `commission` (kept by banks from the day's notices), per channel."""
    require_in_scope(caller, supplier_id=supplier_id)
    day = parse_day(date)
    supplier = ledger.get_supplier(supplier_id)  # an unknown supplier is a 404
    found = register.supplier_register(rm, supplier_id, day, min_position=min_position)
    if format == "json":
        return RegisterOut.model_validate(found)
    filename = f"register-{supplier.inn}-{day}.csv"
    return Response(
        to_csv(found),
        media_type=CSV_MEDIA,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def to_csv(found: SupplierRegister) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in found.entries:
        r = entry.receipt
        sign = 1 if entry.movement == "received" else -1
        writer.writerow(
            [
                found.day,
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
        )
    writer.writerow([])
    writer.writerow(
        ["total", "channel", "count", "received", "refunded", "annulled", "net", "commission"]
    )
    rows: list[tuple[str, Totals]] = [*found.by_channel.items(), ("all", found.totals)]
    for channel, totals in rows:
        writer.writerow(
            [
                found.day,
                channel,
                totals.count,
                rubles(totals.received),
                rubles(totals.refunded),
                rubles(totals.annulled),
                rubles(totals.net),
                rubles(totals.commission),
            ]
        )
    return out.getvalue().encode("utf-8")


def _moscow_time(at: str) -> str:
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(MOSCOW)
    return moment.strftime("%H:%M:%S")
