"""Bank notices posted by operators on behalf of banks: one at a time, or as a register.

A notice's natural key (the posting bank's БИК and its OrderID) is its idempotency key, so no
Idempotency-Key header is needed: the same notice again is a `duplicate` and changes nothing.
The posting bank is the БИК a bank's OrderID carries (`1` + БИК + …); `bank` names it for an
OrderID that carries none, and must agree with one that does (the ledger refuses a mismatch).
A bank operator's is always its own БИК (api/operator_scopes.py).
"""

from __future__ import annotations

import tempfile
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api import writes
from api.deps import LedgerDep, NoticePosterDep, ReadDep, SettingsDep
from api.operator_scopes import PostingBankDep
from api.problems import ApiProblem, PayloadTooLargeProblem, responses
from api.schemas.notices import AnnulBody, NoticeBody, NoticeOutcome, RegisterSummary, RejectOut
from ledger.domain.amounts import rubles
from ledger.domain.identifiers import parse_bik
from ledger.notices.commands import AnnulNotice, ReceiveNotice
from ledger.notices.handlers import bank_of
from ledger.notices.importer import import_register
from ledger.notices.line import parse_notice
from projections import models

router = APIRouter(prefix="/v1/notices", tags=["notices"])
BATCH_PATH = "/v1/notices/batch"
SPOOL_IN_MEMORY = 1024 * 1024  # a register above this is spooled to disk while it arrives


class UnknownBankProblem(ApiProblem):
    status, code, title = 422, "unknown_bank", "The posting bank is unknown"


def posting_bank(bank: str | None, order_id: str) -> str:
    found = parse_bik(bank) if bank else bank_of(order_id)
    if found is None:
        raise UnknownBankProblem("give `bank`: this OrderID does not carry a БИК")
    return found


@router.post("", response_model=NoticeOutcome, responses=responses(400, 403, 404, 409, 422))
async def post_notice(
    body: NoticeBody,
    caller: NoticePosterDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    response: Response,
    bank: PostingBankDep,
) -> NoticeOutcome:
    """Accept one notice. 201 when it is new, 200 when it is a duplicate."""
    fields: dict[str, Any] = body.model_dump(exclude_none=True)
    fields["amount"] = rubles(body.amount)
    fields["commission"] = rubles(body.commission)
    line = parse_notice({k: str(v) for k, v in fields.items()})
    command = ReceiveNotice(bank_bik=posting_bank(bank, body.order_id), line=line)
    outcome = await writes.execute(ledger, command)
    response.status_code = 201 if outcome.result["outcome"] == "accepted" else 200
    # The register is read next: every model, the register included.
    await writes.read_your_writes(outcome, response, read_models, models.NAMES)
    return NoticeOutcome(**{k: outcome.result[k] for k in ("notice_id", "outcome")})


@router.post(
    "/annulments", response_model=NoticeOutcome, responses=responses(400, 403, 404, 409, 422)
)
async def annul_notice(
    body: AnnulBody,
    caller: NoticePosterDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    response: Response,
    bank: PostingBankDep,
) -> NoticeOutcome:
    """Annul an accepted notice: its postings are reversed by a new event, never deleted."""
    annul_date = parse_notice(
        {"order_id": body.order_id, "order_date": body.annul_date, "action": "annul"}
    ).order_date
    command = AnnulNotice(
        bank_bik=posting_bank(bank, body.order_id),
        order_id=body.order_id,
        annul_date=annul_date.isoformat(),
    )
    outcome = await writes.execute(ledger, command)
    await writes.read_your_writes(outcome, response, read_models, models.NAMES)
    return NoticeOutcome(**{k: outcome.result[k] for k in ("notice_id", "outcome")})


@router.post(
    "/batch",
    response_model=RegisterSummary,
    responses=responses(400, 403, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {}, "application/jsonl": {}, "application/x-ndjson": {}},
        }
    },
)
async def post_register(
    request: Request,
    caller: NoticePosterDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    settings: SettingsDep,
    bank: PostingBankDep,
) -> RegisterSummary:
    """A register as the body: CSV (`;`, UTF-8 or cp1251) or JSON Lines, as `kvit notices
    import` reads it. Each line is accepted, a duplicate, a conflict, rejected or an annulment."""
    bank_bik = parse_bik(bank) if bank else None
    limit = settings.max_register_bytes
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeProblem(f"registers are limited to {limit} bytes", limit=limit)
            spool.write(chunk)
        spool.seek(0)
        summary = await run_in_threadpool(
            partial(import_register, ledger, spool, bank_bik=bank_bik)
        )
    if summary.position:
        await run_in_threadpool(read_models.wait_for, summary.position)
    return RegisterSummary(
        **summary.as_dict(),
        rejects=[
            RejectOut(line=r.line_no, order_id=r.order_id, code=r.code, reason=r.reason)
            for r in summary.rejects
        ],
    )
