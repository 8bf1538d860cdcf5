"""A bill's ГОСТ Р 56042 payment QR code: SVG (default), PNG, or the payload as text.

Whoever holds a bill's ИПД holds the bill itself, so any signed-in caller may ask for its code;
the code carries no more than the printed bill.
"""

from __future__ import annotations

import io
from functools import partial
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Query, Response

from api.deps import CallerDep, LedgerDep
from api.problems import responses
from api.schemas.payments import PayeeOut, QrResolveBody
from ledger.qr.bill import bill_qr_payment
from ledger.qr.payee import payee_from_qr
from ledger.qr.payload import build_payload, encode_payload

router = APIRouter(tags=["bills"])
MEDIA = {"svg": "image/svg+xml", "png": "image/png", "text": "text/plain; charset=utf-8"}


@router.get(
    "/v1/bills/{document_id}/qr",
    responses={
        **responses(401, 404, 422),
        200: {"content": {m: {} for m in MEDIA.values()}, "description": "The QR code"},
    },
)
def bill_qr(
    document_id: str,
    caller: CallerDep,
    ledger: LedgerDep,
    format: Annotated[Literal["svg", "png", "text"], Query()] = "svg",
    encoding: Annotated[Literal["utf-8", "cp1251"], Query()] = "utf-8",
) -> Response:
    """`ST00012` UTF-8 by default; `encoding=cp1251` gives `ST00011` for older bank apps."""
    payment = ledger.read(partial(bill_qr_payment, document_id=document_id))
    text = build_payload(payment, encoding=encoding)
    if format == "text":
        return Response(text, media_type=MEDIA["text"])
    out = io.BytesIO()
    qr = segno.make(encode_payload(text), mode="byte", error="m")
    if format == "png":
        qr.save(out, kind="png", scale=4, border=4)
    else:
        qr.save(out, kind="svg", scale=4, border=4, xmldecl=False)
    return Response(out.getvalue(), media_type=MEDIA[format])


@router.post("/v1/qr:resolve", response_model=PayeeOut, responses=responses(401, 404, 422))
def resolve_qr(body: QrResolveBody, caller: CallerDep, ledger: LedgerDep) -> PayeeOut:
    """What a scanned payload would pay, without paying: the supplier, account, bill and
    amount, or the problem that paying it would meet (old requisites, unknown account, …)."""
    payee = ledger.read(partial(payee_from_qr, payload=body.qr_payload))
    return PayeeOut.model_validate(payee.view())
