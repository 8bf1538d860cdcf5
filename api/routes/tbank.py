"""T-Bank's notifications: the outcome of card operations, and the cards it saved.

Verified before anything is read (the Token, with the terminal's password; the terminal; then
T-Bank's payment id and the amount against the checkout), recorded idempotently in whatever
order they arrive, and answered `OK` in plain text, which is what stops T-Bank's retries.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from api.acquirer.checkout import apply_notification
from api.acquirer.tbank.acquirer import NOTIFICATIONS_PATH, TBankAcquirer
from api.acquirer.tbank.notification import NotificationRefused
from api.deps import AcquirerDep, LedgerDep, ReadDep, read_your_writes
from api.problems import BadSignatureProblem, NotFoundProblem, responses

router = APIRouter(tags=["acquirer"])


@router.post(
    NOTIFICATIONS_PATH,
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"example": "OK"}}, "description": "Recorded"},
        **responses(404, 409),
    },
)
async def tbank_notification(
    request: Request,
    ledger: LedgerDep,
    read_models: ReadDep,
    acquirer: AcquirerDep,
    response: Response,
) -> PlainTextResponse:
    """Where T-Bank (KVIT_ACQUIRER=tbank) reports each status change of a card operation."""
    if not isinstance(acquirer, TBankAcquirer):
        raise NotFoundProblem("T-Bank is not this server's acquirer")
    raw = await request.body()
    try:
        note = acquirer.notification(json.loads(raw))
    except (ValueError, NotificationRefused) as error:
        raise BadSignatureProblem(str(error)) from None

    def record() -> None:
        for outcome in apply_notification(ledger, note):
            read_your_writes(outcome, response, read_models)

    await run_in_threadpool(record)
    return PlainTextResponse("OK", headers=dict(response.headers))
