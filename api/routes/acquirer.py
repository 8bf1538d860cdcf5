"""The acquirer's webhook: outcomes of card operations (payments and wallet top-ups).

No idempotency key: the signature authenticates, and settling an operation twice with the
same outcome changes nothing, so replays are harmless.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.acquirer.signature import HEADER, SignatureError, verify
from api.acquirer.tbank.acquirer import TBankAcquirer
from api.deps import AcquirerDep, AcquirerSecretDep, LedgerDep, ReadDep, read_your_writes
from api.problems import BadSignatureProblem, NotFoundProblem, responses
from api.schemas.acquirer import AcquirerNotificationBody, NotificationAck
from ledger.application import Ledger
from ledger.domain.payment import PaymentView
from ledger.engine.group_commit import Outcome
from ledger.errors import UnknownPaymentError
from ledger.payments.commands import SettleCardPayment, SettleTopUp, SettleTopUpResult

router = APIRouter(prefix="/v1/acquirer", tags=["acquirer"])

SIGNATURE_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": True,
    "schema": {"type": "string"},
    "description": 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">',
}


@router.post(
    "/notifications",
    response_model=NotificationAck,
    responses=responses(404, 409),
    openapi_extra={
        "parameters": [SIGNATURE_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": AcquirerNotificationBody.model_json_schema()}
            },
        },
    },
)
async def acquirer_notification(
    request: Request,
    ledger: LedgerDep,
    read_models: ReadDep,
    secret: AcquirerSecretDep,
    acquirer: AcquirerDep,
    response: Response,
) -> NotificationAck:
    """The sandbox's (or an injected acquirer's) outcomes. Not with T-Bank, which reports to
    its own route: no second way to settle its operations."""
    if isinstance(acquirer, TBankAcquirer):
        raise NotFoundProblem("T-Bank reports to /v1/acquirer/tbank/notifications")
    if secret is None:  # KVIT_ACQUIRER_SECRET unset, and no sandbox: no one may sign here
        raise NotFoundProblem("no acquirer reports to this webhook")
    # The signature covers the raw bytes, so the body is parsed only after it is verified.
    raw = await request.body()
    try:
        verify(secret, request.headers.get(HEADER), raw)
    except SignatureError as error:
        raise BadSignatureProblem(str(error)) from None
    try:
        note = AcquirerNotificationBody.model_validate_json(raw)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None

    def settle() -> NotificationAck:
        kind, outcome = settle_operation(ledger, note)
        read_your_writes(outcome, response, read_models)
        return NotificationAck(
            operation_id=note.operation_id, kind=kind, status=outcome.result["status"]
        )

    return await run_in_threadpool(settle)


def settle_operation(
    ledger: Ledger, note: AcquirerNotificationBody
) -> tuple[str, Outcome[PaymentView] | Outcome[SettleTopUpResult]]:
    """The operation id is a payment's or a top-up's (unknown to both → 404). Settling an
    unknown payment changes nothing, so trying the payment first costs no extra read."""
    succeeded = note.status == "succeeded"
    try:
        return "payment", ledger.execute(
            SettleCardPayment(
                payment_id=note.operation_id,
                succeeded=succeeded,
                amount=note.amount,
                acquirer_ref=note.acquirer_ref,
            )
        )
    except UnknownPaymentError:
        return "top_up", ledger.execute(
            SettleTopUp(
                top_up_id=note.operation_id,
                succeeded=succeeded,
                amount=note.amount,
                acquirer_ref=note.acquirer_ref,
            )
        )
