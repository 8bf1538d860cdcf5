"""A payment's receipt as a code for a QR (audit/receipt_code.py): SVG (default), PNG, or the
code as text, for whoever may see the payment. docs/verify_receipt.py checks it offline."""

from __future__ import annotations

import io
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.deps import CallerDep, ChainIfKeptDep, LedgerDep, require_chain
from api.payment_access import visible_payment
from api.problems import ApiProblem, responses
from audit import receipt_code
from audit.proof import receipt_code_of

router = APIRouter(prefix="/v1/payments", tags=["payments", "audit"])  # needs the chain
MEDIA = {"svg": "image/svg+xml", "png": "image/png", "text": "text/plain; charset=utf-8"}


class ReceiptNotSignedProblem(ApiProblem):
    status, code, title = 409, "receipt_not_signed", "No signed checkpoint covers the payment yet"


@router.get(
    "/{payment_id}/receipt/code",
    responses={
        **responses(403, 404, 409, 503),
        200: {"content": {m: {} for m in MEDIA.values()}, "description": "The receipt code"},
    },
)
def get_receipt_code(
    payment_id: UUID,
    caller: CallerDep,
    ledger: LedgerDep,
    chain: ChainIfKeptDep,
    format: Annotated[Literal["svg", "png", "text"], Query()] = "svg",
) -> Response:
    """The payment's creation and success as log entries, their proof and the signature of the
    first checkpoint that covers them, in one line `KVR2:…`; 409 `receipt_not_signed` until
    the log signs that checkpoint (KVIT_AUDIT_CHECKPOINT_INTERVAL_SECONDS)."""
    visible_payment(caller, ledger, payment_id)
    text = receipt_code_of(ledger, require_chain(chain), payment_id)
    if text is None:
        raise ReceiptNotSignedProblem(
            f"payment {payment_id} is not under a signed checkpoint yet; its receipt can be"
            " checked offline once the log signs the next one",
            payment_id=str(payment_id),
        )
    if format == "text":
        return Response(text + "\n", media_type=MEDIA["text"])
    out, symbol = io.BytesIO(), receipt_code.qr(text)
    if format == "png":
        symbol.save(out, kind="png", scale=4, border=4)
    else:
        symbol.save(out, kind="svg", scale=4, border=4, xmldecl=False)
    return Response(out.getvalue(), media_type=MEDIA[format])
